import { AwsCallError } from "../config/errors.ts";
import type { ObjectStore } from "./s3-store.ts";

/** Tag an output carries when its run could not delete an earlier run's quarantine object. */
const STALE_QUARANTINE_TAG = "stale-quarantine";

/** What an earlier run's output says about the quarantine object it may have left. */
export type EarlierOutput = "none" | "clean" | "may-have-quarantine";

/** What one object's output ends with, once it is complete. */
export interface OutputCounts {
  readonly recordsIn: number;
  readonly records: number;
  readonly quarantined: number;
  readonly events: number;
  readonly heartbeatsDropped: number;
  /** Events the filters dropped, by reason (absent: none configured). */
  readonly eventsFiltered?: Readonly<Record<string, number>>;
  readonly eventsRedacted?: number;
}

/** Where the output and the quarantine object of one source object are. */
export interface OutputPlace {
  readonly bucket: string;
  readonly outputKey: string;
  readonly quarantineKey: string;
}

/** How settling went; each field is set only when that step failed, with the error's name. */
export interface Settled {
  readonly staleQuarantineNotDeleted?: string;
  readonly countsNotTagged?: string;
}

/**
 * Reads the tags of the output an earlier run wrote. No output: `none`. Tags saying it quarantined
 * nothing and left nothing: `clean`. Anything else, a read that failed included: it may have left
 * a quarantine object (deleting one that is not there costs a request, never data). Never throws.
 */
export async function readEarlierOutput(
  store: ObjectStore,
  place: OutputPlace,
  signal: AbortSignal | undefined,
): Promise<EarlierOutput> {
  try {
    const tags = await store.getTags(place.bucket, place.outputKey, signal);
    if (tags === undefined) return "none";
    return tags.quarantined === "0" && tags[STALE_QUARANTINE_TAG] === undefined
      ? "clean"
      : "may-have-quarantine";
  } catch {
    return "may-have-quarantine";
  }
}

/**
 * Runs once the output is complete. A run that quarantined nothing deletes the quarantine object
 * an earlier run may have left; when there can be none, it sends nothing under the quarantine prefix
 * (in a versioned bucket a delete of a missing key still writes a delete marker). Then the output
 * gets its counts as tags: unlike metadata, tags change no version and fire no `ObjectCreated`.
 * The output is right either way, so a refused step is returned by name, never thrown; an output
 * whose stale delete was refused is tagged so that the next run tries again.
 */
export async function settleOutput(
  store: ObjectStore,
  place: OutputPlace,
  counts: OutputCounts,
  earlier: EarlierOutput,
  signal: AbortSignal | undefined,
): Promise<Settled> {
  const staleQuarantineNotDeleted =
    counts.quarantined === 0 && earlier === "may-have-quarantine"
      ? await store.delete(place.bucket, place.quarantineKey, signal).then(() => undefined, errorName)
      : undefined;
  const tags = {
    ...countTags(counts),
    ...(staleQuarantineNotDeleted === undefined ? {} : { [STALE_QUARANTINE_TAG]: "true" }),
  };
  const countsNotTagged = await store
    .putTags(place.bucket, place.outputKey, tags, signal)
    .then(() => undefined, errorName);
  return {
    ...(staleQuarantineNotDeleted === undefined ? {} : { staleQuarantineNotDeleted }),
    ...(countsNotTagged === undefined ? {} : { countsNotTagged }),
  };
}

/** The count tags of an output object (S3 takes at most 10 tags an object). */
export function countTags(counts: OutputCounts): Record<string, string> {
  return {
    "records-in": String(counts.recordsIn),
    records: String(counts.records),
    quarantined: String(counts.quarantined),
    events: String(counts.events),
    "heartbeats-dropped": String(counts.heartbeatsDropped),
    ...policyTags(counts),
  };
}

/** `events-filtered` and `events-redacted`, only for an output a policy changed (tags are few). */
function policyTags(counts: OutputCounts): Record<string, string> {
  const filtered = Object.values(counts.eventsFiltered ?? {}).reduce((sum, n) => sum + n, 0);
  const redacted = counts.eventsRedacted ?? 0;
  return {
    ...(filtered > 0 ? { "events-filtered": String(filtered) } : {}),
    ...(redacted > 0 ? { "events-redacted": String(redacted) } : {}),
  };
}

function errorName(error: unknown): string {
  if (error instanceof AwsCallError) return error.errorName;
  return error instanceof Error ? error.name : "Error";
}
