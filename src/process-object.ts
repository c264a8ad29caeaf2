import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Config } from "./config.ts";
import type { DataKeyCacheStats } from "./data-key-cache.ts";
import { gunzipIfCompressed } from "./decompress.ts";
import { DasDecryptError, DeadlineError, type ErrorLocation, RecordError } from "./errors.ts";
import type { ObjectRef } from "./events.ts";
import { type FormatCounts, formatLines } from "./format-lines.ts";
import { mapOrdered } from "./map-ordered.ts";
import { outputKeyFor } from "./output-key.ts";
import type { DecryptedRecord, RecordDecryptor } from "./record-decryptor.ts";
import { resolveResourceId } from "./resource-id.ts";
import type { ObjectStore, PutTarget } from "./s3-store.ts";
import { type RawPiece, splitRecords } from "./split-records.ts";

/** The collaborators of {@link processObject}; built once per container. */
export interface ProcessDeps {
  readonly config: Config;
  readonly store: ObjectStore;
  readonly decryptor: RecordDecryptor;
}

/** What one object produced; every field is a count, a size, a name or a time, never content. */
export interface ObjectSummary extends FormatCounts {
  readonly bucket: string;
  readonly key: string;
  readonly outputBucket: string;
  readonly outputKey: string;
  readonly sourceEtag: string;
  /** Bytes read from S3 (compressed, when the object is). */
  readonly bytesIn: number;
  /** Bytes written to S3 (after output compression). */
  readonly bytesWritten: number;
  readonly kmsCalls: number;
  readonly cacheHits: number;
  readonly ms: number;
}

export interface ProcessOptions {
  /** Aborting it stops the work, aborts the upload and makes the call reject with DeadlineError. */
  readonly signal?: AbortSignal;
}

/**
 * Streams one Firehose object of encrypted DAS records from S3, decrypts it record by record and
 * multipart-uploads the NDJSON to the mirrored output key. Memory stays at a few upload parts plus
 * `decryptConcurrency` records, whatever the object's size; output order equals input order.
 * On any failure the upload is aborted (no partial output) and the error is thrown.
 * @throws RecordError (with the record's index and offset), AwsCallError, DeadlineError, DasDecryptError.
 */
export async function processObject(
  ref: ObjectRef,
  deps: ProcessDeps,
  options: ProcessOptions = {},
): Promise<ObjectSummary> {
  const started = performance.now();
  const { config, store, decryptor } = deps;
  const at = { bucket: ref.bucket, key: ref.key };
  const resource = resolveResourceId(ref.key, config.resourceIdMap, config.resourceId);
  if (resource === undefined) {
    throw new DasDecryptError(
      "no resource id for this key: no DAS_RESOURCE_ID_MAP prefix matches and DAS_RESOURCE_ID is unset",
      at,
    );
  }
  const outputBucket = config.outputBucket ?? ref.bucket;
  const outputKey = outputKeyFor(ref.key, config);
  const stats: DataKeyCacheStats = { loads: 0, hits: 0 };
  const counts: FormatCounts = { records: 0, events: 0, heartbeatsDropped: 0, bytesOut: 0 };
  let bytesIn = 0;
  let bytesWritten = 0;
  const source = await store.get(ref.bucket, ref.key, options.signal);
  const target: PutTarget = {
    bucket: outputBucket,
    key: outputKey,
    contentType: config.outputCompression === "gzip" ? "application/gzip" : "application/x-ndjson",
    metadata: { "das-format": config.outputFormat },
  };

  const decryptPiece = async (piece: RawPiece): Promise<DecryptedRecord> => {
    const where = { ...at, recordIndex: piece.index, byteOffset: piece.offset };
    if (piece.kind === "invalid") throw invalidPieceError(piece, where);
    try {
      const { text, record } = await decryptor.decrypt(piece.bytes, resource, stats);
      return { index: piece.index, offset: piece.offset, rawBytes: piece.bytes.length, text, record };
    } catch (error) {
      throw locate(error, where);
    }
  };

  const body = new PassThrough();
  const uploading = store.put(target, body).catch((error: unknown) => {
    // The upload stopped reading: fail the pipeline too, or it would wait on backpressure forever.
    body.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  });
  const stages = [
    source.body,
    (input: AsyncIterable<Buffer>) => countBytes(input, (n) => (bytesIn += n)),
    gunzipIfCompressed,
    (input: AsyncIterable<Buffer>) => splitRecords(input, { maxRecordBytes: config.maxRecordBytes }),
    (pieces: AsyncIterable<RawPiece>) => mapOrdered(pieces, config.decryptConcurrency, decryptPiece),
    (records: AsyncIterable<DecryptedRecord>) =>
      formatLines(
        records,
        { format: config.outputFormat, includeHeartbeats: config.includeHeartbeats },
        counts,
      ),
    ...(config.outputCompression === "gzip" ? [createGzip()] : []),
    (output: AsyncIterable<Buffer>) => countBytes(output, (n) => (bytesWritten += n)),
    body,
  ];
  try {
    await runPipeline(stages, options.signal);
  } catch (error) {
    await uploading.catch(() => undefined);
    throw options.signal?.aborted ? new DeadlineError(at) : locate(error, at);
  }
  await uploading;

  const summary: ObjectSummary = {
    ...at,
    outputBucket,
    outputKey,
    sourceEtag: source.etag,
    ...counts,
    bytesIn,
    bytesWritten,
    kmsCalls: stats.loads,
    cacheHits: stats.hits,
    ms: 0,
  };
  // Counts are known only now; S3 fixes metadata at creation, so they are set with a same-key copy.
  // The source ETag goes in last: its presence marks the output as complete.
  await store.replaceMetadata({ ...target, metadata: { ...target.metadata, ...summaryMetadata(summary) } });
  return { ...summary, ms: Math.round(performance.now() - started) };
}

/** Metadata recorded on every output object. */
export function summaryMetadata(summary: ObjectSummary): Record<string, string> {
  return {
    "source-etag": summary.sourceEtag,
    records: String(summary.records),
    events: String(summary.events),
    "heartbeats-dropped": String(summary.heartbeatsDropped),
  };
}

function invalidPieceError(piece: Extract<RawPiece, { kind: "invalid" }>, where: object): RecordError {
  const message = {
    garbage: `${piece.length} bytes that are not a JSON object`,
    truncated: "the object ends inside a record (truncated)",
    "too-large": `the record is ${piece.length} bytes, over MAX_RECORD_BYTES`,
  }[piece.reason];
  return new RecordError(piece.reason, message, where);
}

/** Adds the location to an error raised without one; a located error passes as it is. */
function locate(error: unknown, where: ErrorLocation): DasDecryptError {
  if (error instanceof DasDecryptError) {
    if (error.key !== undefined) return error;
    if (error instanceof RecordError)
      return new RecordError(error.reason, error.message, { ...where, cause: error.cause });
    return new DasDecryptError(error.message, { ...where, cause: error, retryable: error.retryable });
  }
  const name = error instanceof Error ? error.name : "Error";
  return new DasDecryptError(`${name} while processing`, { ...where, cause: error, retryable: true });
}

async function* countBytes(input: AsyncIterable<Buffer>, add: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    add(chunk.length);
    yield chunk;
  }
}

/** `stream/promises.pipeline` over a list of stages (its overloads cannot type a spread list). */
function runPipeline(stages: unknown[], signal: AbortSignal | undefined): Promise<void> {
  const run = pipeline as unknown as (...args: unknown[]) => Promise<void>;
  return run(...stages, signal === undefined ? {} : { signal });
}
