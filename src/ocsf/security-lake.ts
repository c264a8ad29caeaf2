import { PassThrough } from "node:stream";
import type { OutputFormat, SecurityLakeTarget } from "../config/config.ts";
import type { ObjectStore } from "../output/s3-store.ts";
import {
  createDatastoreActivityMapper,
  type DatastoreActivity,
  type RecordSource,
} from "./datastore-activity.ts";
import { ParquetRowWriter } from "./parquet-writer.ts";

/**
 * The key of one source object's Parquet file for one event day, in Security Lake's layout for
 * custom sources: `ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/<file>`.
 * The file is named after the source object, so a rerun overwrites what an earlier run wrote.
 */
export function securityLakeKey(target: SecurityLakeTarget, eventDay: string, sourceKey: string): string {
  const name = (sourceKey.split("/").pop() ?? sourceKey).replace(/\.gz$/, "");
  return `ext/${target.source}/region=${target.region}/accountId=${target.accountId}/eventDay=${eventDay}/${name}.parquet`;
}

/** `YYYYMMDD` (UTC) of an epoch-milliseconds time. */
export function eventDayOf(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(0, 10).replace(/-/g, "");
}

/** The members the `events` format appends to each line, which are the record's or derived, not the event's. */
const APPENDED: readonly string[] = ["clusterId", "instanceId", "eventTime", "engine"];

/**
 * Writes the OCSF rows of one source object as it is decrypted: one Parquet file per event day,
 * each streamed to S3 as its row groups fill (the upload starts with the day's first row, so an
 * object without events writes nothing). The rows come from the lines the output gets, so filters
 * and redaction have already applied. {@link commit} completes every file; {@link discard} aborts.
 */
export class SecurityLakeWriter {
  readonly #store: ObjectStore;
  readonly #target: SecurityLakeTarget;
  readonly #sourceKey: string;
  readonly #format: OutputFormat;
  readonly #fallbackTimeMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #map: ReturnType<typeof createDatastoreActivityMapper>;
  readonly #days = new Map<string, { key: string; writer: ParquetRowWriter; upload: Promise<void> }>();
  #rows = 0;

  constructor(options: {
    store: ObjectStore;
    target: SecurityLakeTarget;
    sourceKey: string;
    format: OutputFormat;
    /** The time of a row whose event has no readable time (epoch ms). */
    fallbackTimeMs: number;
    signal?: AbortSignal;
  }) {
    this.#store = options.store;
    this.#target = options.target;
    this.#sourceKey = options.sourceKey;
    this.#format = options.format;
    this.#fallbackTimeMs = options.fallbackTimeMs;
    this.#signal = options.signal;
    this.#map = createDatastoreActivityMapper({
      region: options.target.region,
      accountId: options.target.accountId,
    });
  }

  get bucket(): string {
    return this.#target.bucket;
  }

  /** Rows written. */
  get rows(): number {
    return this.#rows;
  }

  /** The keys of the files written (complete once {@link commit} resolved). */
  get keys(): string[] {
    return [...this.#days.values()].map((day) => day.key).sort();
  }

  /** Passes the output's chunks of NDJSON lines on, after writing their rows. */
  async *tee(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      await this.write(chunk);
      yield chunk;
    }
  }

  /** Adds the rows of a chunk of whole NDJSON lines (`events` or `records` format). */
  async write(lines: Buffer): Promise<void> {
    let start = 0;
    while (start < lines.length) {
      let end = lines.indexOf(0x0a, start);
      if (end < 0) end = lines.length;
      if (end > start) await this.#addLine(JSON.parse(lines.toString("utf8", start, end)));
      start = end + 1;
    }
  }

  /** Completes every file. @throws the upload's error (AwsCallError …). */
  async commit(): Promise<void> {
    for (const day of this.#days.values()) await day.writer.close();
    await Promise.all([...this.#days.values()].map((day) => day.upload));
  }

  /** Aborts every upload: nothing is written. Never throws. */
  async discard(reason: Error): Promise<void> {
    await Promise.all(
      [...this.#days.values()].map(async (day) => {
        day.writer.abort(reason);
        await day.upload.catch(() => undefined);
      }),
    );
  }

  async #addLine(line: Record<string, unknown>): Promise<void> {
    if (this.#format === "records") {
      const list = line.databaseActivityEventList;
      if (!Array.isArray(list)) return;
      const source = this.#sourceOf(line, []);
      for (const event of list) await this.#addEvent(event as Record<string, unknown>, source);
      return;
    }
    await this.#addEvent(line, this.#sourceOf(line, APPENDED));
  }

  async #addEvent(event: Record<string, unknown>, source: RecordSource): Promise<void> {
    const row = this.#map(event, source);
    if (row === undefined) return;
    await this.#dayOf(row).add(row);
    this.#rows += 1;
  }

  /** The record around the line's event(s): its resource, the object's time, the members to leave out. */
  #sourceOf(line: Record<string, unknown>, appended: readonly string[]): RecordSource {
    return {
      ...(typeof line.clusterId === "string" ? { clusterId: line.clusterId } : {}),
      ...(typeof line.instanceId === "string" ? { instanceId: line.instanceId } : {}),
      fallbackTimeMs: this.#fallbackTimeMs,
      appended,
    };
  }

  #dayOf(row: DatastoreActivity): ParquetRowWriter {
    const day = eventDayOf(row.time);
    const open = this.#days.get(day);
    if (open !== undefined) return open.writer;
    const key = securityLakeKey(this.#target, day, this.#sourceKey);
    const body = new PassThrough();
    const upload = this.#store
      .put(
        {
          bucket: this.#target.bucket,
          key,
          contentType: "application/vnd.apache.parquet",
          metadata: {},
        },
        body,
        this.#signal,
      )
      .catch((error: unknown) => {
        // The upload stopped reading: fail the writer too, or a write would wait for `drain` forever.
        body.destroy(error instanceof Error ? error : new Error(String(error)));
        throw error;
      });
    upload.catch(() => undefined);
    const writer = new ParquetRowWriter(body);
    this.#days.set(day, { key, writer, upload });
    return writer;
  }
}
