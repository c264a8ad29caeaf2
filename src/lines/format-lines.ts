import type { OutputFormat } from "../config/config.ts";
import {
  type ActivityEvent,
  type EventPolicy,
  exclusionOf,
  type FilterReason,
  isUnreadableStatement,
  noneFiltered,
  redactEvent,
} from "../policy/event-policy.ts";
import { normalizedMembers } from "./normalize-event.ts";

/** The decrypted inner record (`DatabaseActivityMonitoringRecord`). */
export interface DasRecord {
  readonly type?: unknown;
  readonly clusterId?: unknown;
  readonly instanceId?: unknown;
  readonly databaseActivityEventList: ActivityEvent[];
}

export interface LineOptions {
  readonly format: OutputFormat;
  readonly includeHeartbeats: boolean;
  /** Filters and redaction (`event-policy.ts`), set only when they change something. */
  readonly policy?: EventPolicy;
}

/** What the formatter wrote, added to as it goes. */
export interface LineCounts {
  events: number;
  heartbeatsDropped: number;
  /** Events a filter dropped, by reason (set once one is). */
  filtered?: Record<FilterReason, number>;
  /** Events redaction changed (set once one is). */
  redacted?: number;
  /** Statements replaced whole because their text could not be read (set once one is). */
  statementsUnreadable?: number;
}

/**
 * The NDJSON lines of one decrypted record, each ending in `\n`.
 * `events`: one line per activity event: its own fields untouched, then `clusterId` (when the record
 * has one), `instanceId`, and the normalized `eventTime` and `engine` when they can be derived
 * (`normalize-event.ts`). `records`: one line per record, the decrypted text as RDS wrote it.
 * Synchronous and allocation-light: it runs once per record, in a worker thread or inline.
 */
export function recordLines(
  text: string,
  record: DasRecord,
  options: LineOptions,
  counts: LineCounts,
): string {
  const { policy } = options;
  if (options.format === "records") {
    if (policy === undefined) return `${recordLine(text, record)}\n`;
    const list = record.databaseActivityEventList;
    let kept = 0;
    for (const event of list) if (applyPolicy(event, policy, counts)) list[kept++] = event;
    list.length = kept;
    return `${JSON.stringify(record)}\n`;
  }
  const suffix = originSuffix(record.clusterId, record.instanceId);
  let lines = "";
  for (const event of record.databaseActivityEventList) {
    if (!options.includeHeartbeats && event.type === "heartbeat") {
      counts.heartbeatsDropped += 1;
      continue;
    }
    if (policy !== undefined && !applyPolicy(event, policy, counts)) continue;
    counts.events += 1;
    lines += `${eventLine(event, suffix + normalizedMembers(event))}\n`;
  }
  return lines;
}

/**
 * Filters and redacts one event in place, counting what it did.
 * @returns whether the event is written.
 */
function applyPolicy(event: ActivityEvent, policy: EventPolicy, counts: LineCounts): boolean {
  const reason = exclusionOf(event, policy);
  if (reason !== undefined) {
    counts.filtered ??= noneFiltered();
    counts.filtered[reason] += 1;
    return false;
  }
  if (redactEvent(event, policy)) {
    counts.redacted = (counts.redacted ?? 0) + 1;
    if (policy.redactSqlLiterals && isUnreadableStatement(event.commandText)) {
      counts.statementsUnreadable = (counts.statementsUnreadable ?? 0) + 1;
    }
  }
  return true;
}

/** The JSON members appended to each event line, with their leading commas. */
function originSuffix(clusterId: unknown, instanceId: unknown): string {
  let suffix = "";
  if (clusterId !== undefined && clusterId !== null) suffix += `,"clusterId":${JSON.stringify(clusterId)}`;
  if (instanceId !== undefined && instanceId !== null)
    suffix += `,"instanceId":${JSON.stringify(instanceId)}`;
  return suffix;
}

/** Serializes the event and appends the origin members inside its closing brace. */
function eventLine(event: ActivityEvent, suffix: string): string {
  const json = JSON.stringify(event);
  if (suffix === "") return json;
  if (json === "{}") return `{${suffix.slice(1)}}`;
  return `${json.slice(0, -1)}${suffix}}`;
}

/** A record line is the decrypted text itself, unless line breaks in it would split the NDJSON line. */
function recordLine(text: string, record: DasRecord): string {
  const trimmed = text.trim();
  return trimmed.includes("\n") || trimmed.includes("\r") ? JSON.stringify(record) : trimmed;
}
