import type { OutputFormat } from "./config.ts";
import { normalizedMembers } from "./normalize-event.ts";
import type { ActivityEvent, DecryptedRecord } from "./record-decryptor.ts";

export interface FormatOptions {
  readonly format: OutputFormat;
  readonly includeHeartbeats: boolean;
  /** Lines are batched into chunks of about this many bytes (many tiny writes cost memory and CPU). */
  readonly chunkBytes?: number;
}

/** What the formatter wrote, updated as it goes. */
export interface FormatCounts {
  records: number;
  events: number;
  heartbeatsDropped: number;
  /** Uncompressed NDJSON bytes. */
  bytesOut: number;
}

const DEFAULT_CHUNK = 1024 * 1024;

/**
 * Turns decrypted records into NDJSON, batched into ~1 MiB buffers.
 * `events`: one line per activity event: its own fields untouched, then `clusterId` (when the record
 * has one), `instanceId`, and the normalized `eventTime` and `engine` when they can be derived
 * (`normalize-event.ts`). `records`: one line per record, the decrypted text as RDS wrote it.
 */
export async function* formatLines(
  records: AsyncIterable<DecryptedRecord>,
  options: FormatOptions,
  counts: FormatCounts,
): AsyncGenerator<Buffer> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK;
  let pending = "";
  for await (const decrypted of records) {
    counts.records += 1;
    if (options.format === "records") {
      pending += `${recordLine(decrypted)}\n`;
    } else {
      const suffix = originSuffix(decrypted.record.clusterId, decrypted.record.instanceId);
      for (const event of decrypted.record.databaseActivityEventList) {
        if (!options.includeHeartbeats && isHeartbeat(event)) {
          counts.heartbeatsDropped += 1;
          continue;
        }
        counts.events += 1;
        pending += `${eventLine(event, suffix + normalizedMembers(event))}\n`;
      }
    }
    if (pending.length >= chunkBytes) {
      const chunk = Buffer.from(pending, "utf8");
      counts.bytesOut += chunk.length;
      pending = "";
      yield chunk;
    }
  }
  if (pending.length > 0) {
    const chunk = Buffer.from(pending, "utf8");
    counts.bytesOut += chunk.length;
    yield chunk;
  }
}

function isHeartbeat(event: ActivityEvent): boolean {
  return event.type === "heartbeat";
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
function recordLine(decrypted: DecryptedRecord): string {
  const text = decrypted.text.trim();
  return text.includes("\n") || text.includes("\r") ? JSON.stringify(decrypted.record) : text;
}
