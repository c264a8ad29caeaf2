import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config/config.ts";
import { AwsCallError } from "../config/errors.ts";
import { isOutputKey, outputKeyFor } from "../output/output-key.ts";
import { isQuarantineKey } from "../output/quarantine.ts";
import { mapOrdered } from "../source/map-ordered.ts";
import type { EmitFailure, Emitter } from "./emitters.ts";
import { type ListedObject, listRawObjects } from "./list-raw-objects.ts";
import type { Counts, Progress } from "./progress.ts";
import type { S3Url } from "./s3-url.ts";

export interface ReprocessOptions {
  readonly source: S3Url;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly startAfter?: string;
  /** Re-emit objects whose decrypted twin is already up to date. */
  readonly force: boolean;
  /** Objects (and up-to-date checks) in flight at once. */
  readonly concurrency: number;
  /** Objects named by one emitted event. */
  readonly batchSize: number;
  readonly config: Config;
  readonly s3: S3Client;
  /** Where the events go; `undefined` lists and checks only (dry run, manifest). */
  readonly emitter: Emitter | undefined;
  readonly progress: Progress;
  /** Aborting it (Ctrl-C) stops emitting; what was started finishes, and a resume point is given. */
  readonly signal?: AbortSignal;
}

export interface ReprocessResult {
  readonly counts: Counts;
  /** The objects that were (or, without an emitter, would be) sent. */
  readonly pending: ListedObject[];
  /** Each failed object once, in key order. */
  readonly failures: EmitFailure[];
  /** Every key up to and including this one is done: `--start-after` it to resume. */
  readonly resumeAfter: string | undefined;
  readonly interrupted: boolean;
}

/**
 * Re-emits S3 events for raw objects under a prefix (optionally an hour range of the Firehose
 * layout), skipping those whose decrypted twin records the object's current ETag (unless forced),
 * so reruns and resumed runs only do what is left.
 * @throws AwsCallError when listing the objects or checking their twins fails.
 */
export async function reprocess(options: ReprocessOptions): Promise<ReprocessResult> {
  const { config, s3, source } = options;
  const exclude = (key: string) =>
    isOutputKey(source.bucket, key, config) || isQuarantineKey(source.bucket, key, config);
  const listed: ListedObject[] = [];
  for await (const object of listRawObjects(s3, {
    bucket: source.bucket,
    prefix: source.key,
    ...(options.fromMs === undefined ? {} : { fromMs: options.fromMs }),
    ...(options.toMs === undefined ? {} : { toMs: options.toMs }),
    ...(options.startAfter === undefined ? {} : { startAfter: options.startAfter }),
    exclude,
  })) {
    listed.push(object);
  }
  const counts: Counts = { total: listed.length, decrypted: 0, upToDate: 0, failed: 0 };
  options.progress.update(counts);

  // Decide per object, in key order, whether it is up to date; then send the rest in batches.
  const steps = mapOrdered(toIterable(listed), options.concurrency, async (object) => ({
    object,
    fresh: !options.force && (await isUpToDate(s3, config, object)),
  }));
  const pending: ListedObject[] = [];
  const failures: EmitFailure[] = [];
  let resumeAfter: string | undefined;
  let contiguous = true;
  let interrupted = false;
  // Up-to-date objects are counted but do not move the resume point: batches before them may
  // still be in flight, and on a resumed run they cost one HEAD each to skip again.
  const batches = batchesOf(steps, options.batchSize, () => {
    counts.upToDate += 1;
    options.progress.update(counts);
  });
  const sent = mapOrdered(batches, options.concurrency, async (batch) => {
    if (options.signal?.aborted === true) return { batch, failed: undefined };
    pending.push(...batch);
    if (options.emitter === undefined) return { batch, failed: [] };
    try {
      return { batch, failed: await options.emitter.emit(batch) };
    } catch (error) {
      return { batch, failed: batch.map((object) => ({ object, error })) };
    }
  });
  for await (const { batch, failed } of sent) {
    if (failed === undefined) {
      interrupted = true;
      contiguous = false;
      continue;
    }
    counts.decrypted += batch.length - failed.length;
    counts.failed += failed.length;
    failures.push(...failed);
    if (failed.length > 0) contiguous = false;
    if (contiguous) resumeAfter = batch.at(-1)?.key;
    options.progress.update(counts);
  }
  options.progress.stop();
  return { counts, pending, failures, resumeAfter, interrupted };
}

/**
 * True when the decrypted twin exists and records this very version of the source.
 * @throws AwsCallError when the twin cannot be looked at (no permission, no such bucket).
 */
async function isUpToDate(s3: S3Client, config: Config, object: ListedObject): Promise<boolean> {
  const at = { bucket: config.outputBucket ?? object.bucket, key: outputKeyFor(object.key, config) };
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: at.bucket, Key: at.key }));
    return head.Metadata?.["source-etag"] === object.etag;
  } catch (error) {
    if (error instanceof Error && (error.name === "NotFound" || error.name === "NoSuchKey")) return false;
    // HeadObject is allowed by s3:GetObject.
    throw new AwsCallError("s3:GetObject", error, at);
  }
}

async function* toIterable<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

/** Groups the objects that need sending into batches; reports the up-to-date ones as they pass. */
async function* batchesOf(
  steps: AsyncIterable<{ object: ListedObject; fresh: boolean }>,
  size: number,
  onFresh: (object: ListedObject) => void,
): AsyncGenerator<ListedObject[]> {
  let batch: ListedObject[] = [];
  for await (const { object, fresh } of steps) {
    if (fresh) {
      onFresh(object);
      continue;
    }
    batch.push(object);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
