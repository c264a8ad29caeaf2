import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { ObjectSummary } from "../process-object.ts";

/** The `source` and `detail-type` a rule matches the function's events on. */
export const EVENT_SOURCE = "das-decrypt";
export const OBJECT_DECRYPTED = "DAS Object Decrypted";

/**
 * The `detail` of a "DAS Object Decrypted" event: where the object and its output are, and its
 * counts. Names and numbers only, never content: it goes to whatever subscribes to the bus.
 */
export interface ObjectDecryptedDetail {
  readonly bucket: string;
  readonly key: string;
  readonly sourceEtag: string;
  readonly outputBucket: string;
  readonly outputKeys: readonly string[];
  /** Set when records were set aside: where, with their reasons. */
  readonly quarantineKey?: string;
  /** With SECURITY_LAKE_BUCKET: the OCSF Parquet files written, one per event day. */
  readonly securityLake?: { readonly bucket: string; readonly keys: readonly string[] };
  readonly counts: {
    readonly recordsIn: number;
    readonly records: number;
    readonly quarantined: number;
    readonly events: number;
    readonly heartbeatsDropped: number;
    readonly filtered: Readonly<Record<string, number>>;
    readonly redacted: number;
  };
}

/** Publishes one object's event; rejects when it was not accepted. */
export type ObjectEventPublisher = (summary: ObjectSummary) => Promise<void>;

export function objectDecryptedDetail(summary: ObjectSummary): ObjectDecryptedDetail {
  return {
    bucket: summary.bucket,
    key: summary.key,
    sourceEtag: summary.sourceEtag,
    outputBucket: summary.outputBucket,
    outputKeys: [summary.outputKey],
    ...(summary.quarantineKey === undefined ? {} : { quarantineKey: summary.quarantineKey }),
    ...(summary.securityLake === undefined
      ? {}
      : { securityLake: { bucket: summary.securityLake.bucket, keys: summary.securityLake.keys } }),
    counts: {
      recordsIn: summary.recordsIn,
      records: summary.records,
      quarantined: summary.quarantined,
      events: summary.events,
      heartbeatsDropped: summary.heartbeatsDropped,
      filtered: summary.eventsFiltered,
      redacted: summary.eventsRedacted,
    },
  };
}

/**
 * A publisher to the account's default event bus. The SDK retries throttling and 5xx as for the
 * other clients; an entry the bus refuses (`FailedEntryCount`) rejects with its error code.
 */
export function eventBridgePublisher(client: EventBridgeClient): ObjectEventPublisher {
  return async (summary) => {
    const answer = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: EVENT_SOURCE,
            DetailType: OBJECT_DECRYPTED,
            Detail: JSON.stringify(objectDecryptedDetail(summary)),
          },
        ],
      }),
    );
    if ((answer.FailedEntryCount ?? 0) > 0) {
      const entry = answer.Entries?.[0];
      const error = new Error(`the event bus refused the event: ${entry?.ErrorCode ?? "no error code"}`);
      error.name = entry?.ErrorCode ?? "FailedEntry";
      throw error;
    }
  };
}
