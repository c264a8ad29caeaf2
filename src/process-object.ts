import { PassThrough } from "node:stream";
import { createGzip } from "node:zlib";
import type { Config } from "./config/config.ts";
import {
  AwsCallError,
  DasDecryptError,
  DeadlineError,
  type ErrorLocation,
  RecordError,
} from "./config/errors.ts";
import type { BatchDecryptor } from "./decrypt/batch-decryptor.ts";
import type { DataKeyCacheStats } from "./decrypt/data-key-cache.ts";
import type { BatchResult } from "./decrypt/record-decryptor.ts";
import { resolveResourceId } from "./decrypt/resource-id.ts";
import type { ObjectRef } from "./lambda/events.ts";
import { SecurityLakeWriter } from "./ocsf/security-lake.ts";
import { badPieceEntry, type Piece, withGzipFailure } from "./output/bad-piece-entry.ts";
import { outputKeyFor } from "./output/output-key.ts";
import { type OutputPlace, readEarlierOutput, settleOutput } from "./output/output-tags.ts";
import { QuarantineWriter, quarantineKeyFor } from "./output/quarantine.ts";
import { RecordLedger } from "./output/record-ledger.ts";
import type { ObjectStore, PutTarget } from "./output/s3-store.ts";
import {
  type EventPolicy,
  FILTER_REASONS,
  type FilterReason,
  isPolicyActive,
  noneFiltered,
} from "./policy/event-policy.ts";
import { type Batch, batchPieces } from "./source/batch-pieces.ts";
import { BufferPool } from "./source/buffer-pool.ts";
import { type GzipFailure, gunzipIfCompressed } from "./source/decompress.ts";
import { mapOrdered } from "./source/map-ordered.ts";
import { countBytes, isStreamCut, rejectionOf, runPipeline, untilAborted } from "./source/pipeline-steps.ts";
import { splitRecords } from "./source/split-records.ts";

/** The collaborators of {@link processObject}; built once per container. */
export interface ProcessDeps {
  readonly config: Config;
  readonly store: ObjectStore;
  readonly decryptor: BatchDecryptor;
  /** The key of `REDACT_PARAMS=hash` (once per container, from KMS); required when hashing. */
  readonly paramHashKey?: () => Promise<Uint8Array>;
  /** Where the OCSF Parquet files go with SECURITY_LAKE_BUCKET (default: `store`). */
  readonly lakeStore?: ObjectStore;
}

/** What was written to the output so far. */
export interface OutputCounts {
  records: number;
  events: number;
  heartbeatsDropped: number;
  /** Events the filters dropped, by reason; events in = `events` + these + `heartbeatsDropped`. */
  eventsFiltered: Record<FilterReason, number>;
  /** Events redaction changed. */
  eventsRedacted: number;
  /** Statements replaced whole by `REDACT_SQL_LITERALS` because their text could not be read. */
  statementsUnreadable: number;
  /** Uncompressed NDJSON bytes. */
  bytesOut: number;
}

/** What one object produced; every field is a count, a size, a name or a time, never content. */
export interface ObjectSummary extends OutputCounts {
  readonly bucket: string;
  readonly key: string;
  readonly outputBucket: string;
  readonly outputKey: string;
  readonly sourceEtag: string;
  /** Pieces cut from the object: records, plus runs of bytes where a record should have been. */
  readonly recordsIn: number;
  /** Pieces written to the quarantine object; `recordsIn` = `records` + `quarantined`. */
  readonly quarantined: number;
  /** Quarantined pieces by reason. */
  readonly quarantineReasons: Readonly<Record<string, number>>;
  /** Set when something was quarantined. */
  readonly quarantineKey?: string;
  /** Set when a stale quarantine object of an earlier run could not be deleted: the error's name. */
  readonly staleQuarantineNotDeleted?: string;
  /** Set when the output's count tags could not be written (the output is complete): the error's name. */
  readonly countsNotTagged?: string;
  /** With SECURITY_LAKE_BUCKET: the Parquet files written (one per event day) and their rows. */
  readonly securityLake?: {
    readonly bucket: string;
    readonly keys: readonly string[];
    readonly rows: number;
  };
  /** Set when the "DAS Object Decrypted" event could not be published (the output is complete): the error's name. */
  readonly eventNotPublished?: string;
  /** Bytes read from S3 (compressed, when the object is). */
  readonly bytesIn: number;
  /** Bytes written to S3 (after output compression). */
  readonly bytesWritten: number;
  readonly kmsCalls: number;
  readonly cacheHits: number;
  readonly ms: number;
}

export interface ProcessOptions {
  /** Aborting it stops the work, aborts the uploads and makes the call reject with DeadlineError. */
  readonly signal?: AbortSignal;
}

/** A batch of pieces and, when it held records, what their decryption gave. */
interface DecryptedBatch extends Batch {
  readonly result: BatchResult | undefined;
}

/**
 * Buffers of the batches' raw bytes, 1 MiB each (a batch also ends at `DECRYPT_BATCH_RECORDS`
 * pieces), shared by the objects of this container: a few batches are in the pipeline at a time.
 */
const batchBuffers = new BufferPool(1024 * 1024, 8);

/**
 * Streams one Firehose object of encrypted DAS records from S3, decrypts it record by record and
 * multipart-uploads the NDJSON to the mirrored output key. Records are decrypted in batches, in this
 * thread or in worker threads; memory stays at a few upload parts plus a few batches (≤ 1 MiB each)
 * per worker, whatever the object's size; output order equals input order.
 * A bad record (or bad bytes) goes to the quarantine object with its index, offset and reason, and
 * the rest is still decrypted. Before the output is committed, records in must equal records
 * decrypted plus quarantined. On any failure both uploads are aborted and the error is thrown.
 * @throws ResourceIdMismatchError, TooManyBadRecordsError, AccountingError (permanent), AwsCallError,
 *   DeadlineError (retryable), DasDecryptError.
 */
export async function processObject(
  ref: ObjectRef,
  deps: ProcessDeps,
  options: ProcessOptions = {},
): Promise<ObjectSummary> {
  const started = performance.now();
  const { config, store, decryptor } = deps;
  const { signal } = options;
  const at = { bucket: ref.bucket, key: ref.key };
  if (aborted(signal)) throw new DeadlineError(at);
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
  const counts: OutputCounts = {
    records: 0,
    events: 0,
    heartbeatsDropped: 0,
    eventsFiltered: noneFiltered(),
    eventsRedacted: 0,
    statementsUnreadable: 0,
    bytesOut: 0,
  };
  let bytesIn = 0;
  let bytesWritten = 0;
  let gzipFailure: GzipFailure | undefined;
  const place: OutputPlace = {
    bucket: outputBucket,
    outputKey,
    quarantineKey: quarantineKeyFor(ref.key, config),
  };
  // The earlier run's output, if any, tells by its tags whether it left a quarantine object.
  const earlier = readEarlierOutput(store, place, signal);
  const source = await store.get(ref.bucket, ref.key, signal).catch((error: unknown) => {
    throw aborted(signal) ? new DeadlineError(at) : error;
  });
  // Metadata is set at creation, once: a multipart object appears only at CompleteMultipartUpload,
  // which the commit gate holds until the books balance, so `source-etag` marks a complete output.
  const target: PutTarget = {
    bucket: outputBucket,
    key: outputKey,
    contentType: config.outputCompression === "gzip" ? "application/gzip" : "application/x-ndjson",
    metadata: { "das-format": config.outputFormat, "source-etag": source.etag },
  };
  const ledger = new RecordLedger({
    maxQuarantined: config.maxQuarantinedRecords,
    resource,
    resourceVariable: resourceVariableFor(ref.key, config),
    location: at,
  });
  const quarantine = new QuarantineWriter(
    store,
    {
      bucket: outputBucket,
      key: place.quarantineKey,
      contentType: "application/x-ndjson",
      metadata: { "source-etag": source.etag },
    },
    signal,
  );

  const lake =
    config.securityLake === undefined
      ? undefined
      : new SecurityLakeWriter({
          store: deps.lakeStore ?? store,
          target: config.securityLake,
          sourceKey: ref.key,
          format: config.outputFormat,
          fallbackTimeMs: Date.now(),
          ...(signal === undefined ? {} : { signal }),
        });
  const decryption = decryptor.open(resource, stats, {
    format: config.outputFormat,
    includeHeartbeats: config.includeHeartbeats,
    ...(isPolicyActive(config.eventPolicy) ? { policy: await eventPolicyOf(deps) } : {}),
  });
  const decryptPieces = async (batch: Batch): Promise<DecryptedBatch> => {
    const { pieces } = batch;
    const records: Buffer[] = [];
    let first: ErrorLocation = {};
    for (const piece of pieces) {
      if (piece.kind !== "record") continue;
      if (records.length === 0) first = { recordIndex: piece.index, byteOffset: piece.offset };
      records.push(piece.bytes);
    }
    if (records.length === 0) return { ...batch, result: undefined };
    try {
      return { ...batch, result: await untilAborted(decryption.decrypt(records), signal) };
    } catch (error) {
      // Only a fault of a record itself is quarantined; KMS and S3 failures fail the object.
      throw locate(error, { ...at, ...first });
    }
  };
  // In input order: the books, the quarantine, then the batch's lines on to the output.
  async function* route(batches: AsyncIterable<DecryptedBatch>): AsyncGenerator<Buffer> {
    for await (const { pieces, buffer, result } of batches) {
      let next = 0;
      for (const piece of pieces) {
        if (piece.kind !== "record") {
          const entry = badPieceEntry(piece, config.maxRecordBytes);
          ledger.noteQuarantined(entry.reason);
          await quarantine.write(entry);
          continue;
        }
        const failure = result?.failures[next];
        next += 1;
        if (failure === null) {
          ledger.noteDecrypted();
          counts.records += 1;
          continue;
        }
        const { reason, message } = failure ?? { reason: "lost", message: "no outcome for this record" };
        const { index, offset, bytes } = piece;
        ledger.noteQuarantined(reason);
        await quarantine.write({
          recordIndex: index,
          byteOffset: offset,
          length: bytes.length,
          raw: bytes,
          reason,
          message,
        });
      }
      // Nothing holds the batch's raw bytes any more: quarantine entries are encoded when written.
      if (buffer !== undefined) batchBuffers.give(buffer);
      if (result === undefined) continue;
      counts.events += result.events;
      counts.heartbeatsDropped += result.heartbeatsDropped;
      for (const reason of FILTER_REASONS) counts.eventsFiltered[reason] += result.filtered[reason];
      counts.eventsRedacted += result.redacted;
      counts.statementsUnreadable += result.statementsUnreadable;
      counts.bytesOut += result.lines.length;
      if (result.lines.length > 0)
        yield Buffer.from(result.lines.buffer, result.lines.byteOffset, result.lines.length);
    }
  }
  // The last stage before the output's body ends: nothing is committed unless the books balance.
  async function* commitGate(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    yield* chunks;
    ledger.close(counts.records);
    await quarantine.commit();
    await lake?.commit();
  }

  const body = new PassThrough();
  const uploading = store.put(target, body, signal).catch((error: unknown) => {
    // The upload stopped reading: fail the pipeline too, or it would wait on backpressure forever.
    body.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  });
  // Observed at once: the pipeline may be waiting on a slow KMS call when the upload fails.
  uploading.catch(() => undefined);
  const stages = [
    source.body,
    (input: AsyncIterable<Buffer>) => countBytes(input, (n) => (bytesIn += n)),
    (input: AsyncIterable<Buffer>) =>
      gunzipIfCompressed(input, { onFailure: (failure) => (gzipFailure = failure) }),
    (input: AsyncIterable<Buffer>) =>
      withGzipFailure(splitRecords(input, { maxRecordBytes: config.maxRecordBytes }), () => gzipFailure),
    (pieces: AsyncIterable<Piece>) => ledger.countIn(pieces),
    (pieces: AsyncIterable<Piece>) => batchPieces(pieces, config.decryptBatchRecords, batchBuffers),
    (batches: AsyncIterable<Batch>) => mapOrdered(batches, decryption.parallelism, decryptPieces),
    route,
    ...(lake === undefined ? [] : [(chunks: AsyncIterable<Buffer>) => lake.tee(chunks)]),
    commitGate,
    ...(config.outputCompression === "gzip" ? [createGzip()] : []),
    (output: AsyncIterable<Buffer>) => countBytes(output, (n) => (bytesWritten += n)),
    body,
  ];
  try {
    await runPipeline(stages, signal);
  } catch (error) {
    // A failed upload stops reading its body, which ends the pipeline with a premature close or an
    // AbortError: then the upload's own error says what happened.
    const uploadError = isStreamCut(error) ? await rejectionOf(uploading) : undefined;
    const failure = aborted(signal) ? new DeadlineError(at) : locate(uploadError ?? error, at);
    await Promise.all([
      uploading.catch(() => undefined),
      quarantine.discard(failure),
      lake?.discard(failure),
    ]);
    throw failure;
  } finally {
    decryption.close();
  }
  await uploading.catch((error: unknown) => {
    throw aborted(signal) ? new DeadlineError(at) : error;
  });

  const summary: ObjectSummary = {
    ...at,
    outputBucket,
    outputKey,
    sourceEtag: source.etag,
    recordsIn: ledger.recordsIn,
    ...counts,
    quarantined: ledger.quarantined,
    quarantineReasons: ledger.reasons,
    ...(ledger.quarantined > 0 ? { quarantineKey: quarantine.key } : {}),
    ...(lake === undefined
      ? {}
      : { securityLake: { bucket: lake.bucket, keys: lake.keys, rows: lake.rows } }),
    bytesIn,
    bytesWritten,
    kmsCalls: stats.loads,
    cacheHits: stats.hits,
    ms: 0,
  };
  // The output is complete: an earlier quarantine object may go now, then the counts become tags.
  const settled = await settleOutput(store, place, summary, await earlier, signal);
  return { ...summary, ...settled, ms: Math.round(performance.now() - started) };
}

/** The configured policy, with the bind-value hash key when it hashes. */
async function eventPolicyOf({ config, paramHashKey }: ProcessDeps): Promise<EventPolicy> {
  if (config.eventPolicy.redactParams !== "hash") return config.eventPolicy;
  if (paramHashKey === undefined) throw new Error("REDACT_PARAMS=hash needs the paramHashKey collaborator");
  return { ...config.eventPolicy, paramHashKey: await paramHashKey() };
}

/** The variable that chose this key's resource id, for configuration error messages. */
function resourceVariableFor(key: string, config: Config): string {
  const entry = config.resourceIdMap.find(([prefix]) => key.startsWith(prefix));
  return entry === undefined ? "DAS_RESOURCE_ID" : `DAS_RESOURCE_ID_MAP[${JSON.stringify(entry[0])}]`;
}

/** Adds the location to an error raised without one; a located error passes as it is. */
function locate(error: unknown, where: ErrorLocation): DasDecryptError {
  if (error instanceof DasDecryptError) {
    if (error.key !== undefined) return error;
    if (error instanceof AwsCallError) return new AwsCallError(error.operation, error.cause, where);
    if (error instanceof RecordError)
      return new RecordError(error.reason, error.message, { ...where, cause: error.cause });
    return new DasDecryptError(error.message, { ...where, cause: error, retryable: error.retryable });
  }
  const name = error instanceof Error ? error.name : "Error";
  return new DasDecryptError(`${name} while processing`, { ...where, cause: error, retryable: true });
}

/** Read through a call: TypeScript would keep `signal.aborted` narrowed from the first check. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
