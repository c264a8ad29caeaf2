import { once } from "node:events";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { quarantineKeyFor } from "../output/quarantine.ts";
import type { ObjectStore } from "../output/s3-store.ts";
import { type ObjectSummary, type ProcessDeps, processObject } from "../process-object.ts";

/** The bucket name a local file is processed under; errors locate it as `s3://local-file/<path>`. */
export const LOCAL_FILE_BUCKET = "local-file";

export interface CatOptions {
  /** `s3://bucket/key` already split, or a local file path (bucket `undefined`). */
  readonly bucket: string | undefined;
  readonly key: string;
  /** The decrypting pipeline's collaborators; its config should ask for uncompressed output. */
  readonly deps: ProcessDeps;
  readonly out: Writable;
  /** Where bad records go (NDJSON, with their raw bytes); `undefined`: counted only. */
  readonly quarantine: Writable | undefined;
  /** Aborting it stops the work (Ctrl-C, or the reader of `out` went away). */
  readonly signal?: AbortSignal;
}

/**
 * Decrypts one object (from S3 or a local file) to `out` as NDJSON, through the same pipeline the
 * function runs: the upload sink is swapped for the output stream, nothing is written to S3.
 * @throws what processObject throws; DeadlineError once `signal` aborts.
 */
export async function catObject(options: CatOptions): Promise<ObjectSummary> {
  const { deps, out, signal } = options;
  const bucket = options.bucket ?? LOCAL_FILE_BUCKET;
  const quarantineKey = quarantineKeyFor(options.key, deps.config);
  const store: ObjectStore = {
    async get(b, key, getSignal) {
      if (options.bucket !== undefined) return deps.store.get(b, key, getSignal);
      const { size } = await stat(key);
      return { body: createReadStream(key), etag: "", size };
    },
    async put(target, body) {
      const sink = target.key === quarantineKey ? options.quarantine : out;
      await drainInto(body, sink, signal);
    },
    async putTags() {},
    async getTags() {
      return undefined;
    },
    async delete() {},
  };
  return processObject(
    { bucket, key: options.key },
    { ...deps, store },
    signal === undefined ? {} : { signal },
  );
}

/**
 * Copies `body` into `sink` with backpressure, leaving `sink` open; drops it when there is no sink.
 * @throws when the sink fails or is closed, so the pipeline stops instead of waiting on it.
 */
async function drainInto(body: Readable, sink: Writable | undefined, signal?: AbortSignal): Promise<void> {
  for await (const chunk of body) {
    if (sink === undefined) continue;
    if (sink.destroyed) throw new Error("the output was closed");
    if (!sink.write(chunk)) await once(sink, "drain", signal === undefined ? {} : { signal });
  }
}
