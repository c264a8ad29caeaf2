import { once } from "node:events";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { type ObjectSummary, type ProcessDeps, processObject } from "../process-object.ts";
import { quarantineKeyFor } from "../quarantine.ts";
import type { ObjectStore } from "../s3-store.ts";

export interface CatOptions {
  /** `s3://bucket/key` already split, or a local file path (bucket `undefined`). */
  readonly bucket: string | undefined;
  readonly key: string;
  /** The decrypting pipeline's collaborators; its config should ask for uncompressed output. */
  readonly deps: ProcessDeps;
  readonly out: Writable;
  /** Where bad records go (NDJSON, with their raw bytes); `undefined`: counted only. */
  readonly quarantine: Writable | undefined;
}

/**
 * Decrypts one object (from S3 or a local file) to `out` as NDJSON, through the same pipeline the
 * function runs: the upload sink is swapped for the output stream, nothing is written to S3.
 * @throws what processObject throws.
 */
export async function catObject(options: CatOptions): Promise<ObjectSummary> {
  const { deps, out } = options;
  const bucket = options.bucket ?? "local-file";
  const quarantineKey = quarantineKeyFor(options.key, deps.config);
  const store: ObjectStore = {
    async get(b, key, signal) {
      if (options.bucket !== undefined) return deps.store.get(b, key, signal);
      const { size } = await stat(key);
      return { body: createReadStream(key), etag: "", size };
    },
    async put(target, body) {
      const sink = target.key === quarantineKey ? options.quarantine : out;
      await drainInto(body, sink);
    },
    async putTags() {},
    async getTags() {
      return undefined;
    },
    async delete() {},
  };
  return processObject({ bucket, key: options.key }, { ...deps, store });
}

/** Copies `body` into `sink` with backpressure, leaving `sink` open; drops it when there is no sink. */
async function drainInto(body: Readable, sink: Writable | undefined): Promise<void> {
  for await (const chunk of body) {
    if (sink !== undefined && !sink.write(chunk)) await once(sink, "drain");
  }
}
