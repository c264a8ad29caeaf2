import { createHmac } from "node:crypto";
import type { ActivityEvent } from "./format-lines.ts";

/**
 * Which events are written and what of them: noise filters and redaction, applied to every event
 * before it becomes a line, in both output formats. Plain data, so it crosses to decryption
 * workers with the line options. Lists are lower-cased once, at configuration.
 */
export interface EventPolicy {
  /** `dbUserName` values (lower case) whose events are dropped. */
  readonly excludeUsers: readonly string[];
  /** `databaseName` values (lower case) whose events are dropped. */
  readonly excludeDatabases: readonly string[];
  /** `command` values (lower case) whose events are dropped. */
  readonly excludeCommands: readonly string[];
  /**
   * Bind values (`paramList`): kept as they are, removed, or each replaced by its keyed hash
   * (HMAC-SHA-256, hex), so equal values stay joinable without being readable.
   */
  readonly redactParams: "keep" | "drop" | "hash";
  /** The HMAC key of `hash`: derived at cold start from KMS (`param-hash-key.ts`), never configured. */
  readonly paramHashKey?: Uint8Array;
  /** Event fields removed by name, also from the members of `engineNativeAuditFields`. */
  readonly redactFields: readonly string[];
}

/** Why an event was filtered out; counted per reason. */
export type FilterReason = "user" | "database" | "command";
export const FILTER_REASONS: readonly FilterReason[] = ["user", "database", "command"];

/** A count of zero for every filter reason, to add to. */
export function noneFiltered(): Record<FilterReason, number> {
  return { user: 0, database: 0, command: 0 };
}

export const NO_POLICY: EventPolicy = Object.freeze({
  excludeUsers: [],
  excludeDatabases: [],
  excludeCommands: [],
  redactParams: "keep",
  redactFields: [],
});

/** Whether the policy changes anything: if not, lines may be written straight from the record's bytes. */
export function isPolicyActive(policy: EventPolicy): boolean {
  return (
    policy.excludeUsers.length > 0 ||
    policy.excludeDatabases.length > 0 ||
    policy.excludeCommands.length > 0 ||
    policy.redactParams !== "keep" ||
    policy.redactFields.length > 0
  );
}

/** The filter that drops the event (case-insensitive, exact), or `undefined` when it is kept. */
export function exclusionOf(event: ActivityEvent, policy: EventPolicy): FilterReason | undefined {
  if (matches(event.dbUserName, policy.excludeUsers)) return "user";
  if (matches(event.databaseName, policy.excludeDatabases)) return "database";
  if (matches(event.command, policy.excludeCommands)) return "command";
  return undefined;
}

/**
 * Removes what the policy redacts from the event, in place.
 * @returns whether anything was removed.
 */
export function redactEvent(event: ActivityEvent, policy: EventPolicy): boolean {
  let changed = false;
  if (policy.redactParams === "drop" && "paramList" in event) {
    delete event.paramList;
    changed = true;
  } else if (policy.redactParams === "hash" && Array.isArray(event.paramList) && event.paramList.length > 0) {
    const key = policy.paramHashKey;
    if (key === undefined) throw new Error("REDACT_PARAMS=hash without its key");
    event.paramList = event.paramList.map((value: unknown) => hashParam(value, key));
    changed = true;
  }
  if (policy.redactFields.length === 0) return changed;
  const native = event.engineNativeAuditFields;
  const nativeFields =
    typeof native === "object" && native !== null && !Array.isArray(native)
      ? (native as Record<string, unknown>)
      : undefined;
  for (const name of policy.redactFields) {
    if (Object.hasOwn(event, name)) {
      delete event[name];
      changed = true;
    }
    if (nativeFields !== undefined && Object.hasOwn(nativeFields, name)) {
      delete nativeFields[name];
      changed = true;
    }
  }
  return changed;
}

/**
 * A bind value's keyed hash: HMAC-SHA-256 of its text (a string as is, anything else as JSON), in
 * hex. `null` stays `null`: it holds nothing to hide and says the value was absent.
 */
function hashParam(value: unknown, key: Uint8Array): string | null {
  if (value === null) return null;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return createHmac("sha256", key).update(text, "utf8").digest("hex");
}

function matches(value: unknown, list: readonly string[]): boolean {
  return list.length > 0 && typeof value === "string" && list.includes(value.toLowerCase());
}
