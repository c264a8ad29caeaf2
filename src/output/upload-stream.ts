import { Readable } from "node:stream";
import { AbortMultipartUploadCommand, type PutObjectCommandInput, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AwsCallError, DasDecryptError, type ErrorLocation } from "../config/errors.ts";

/** S3 takes at most this many parts in one multipart upload. */
const MAX_PARTS = 10_000;
/** How long AbortMultipartUpload may take at the deadline (the handler keeps a 5 s margin). */
const ABORT_MS = 2_000;

/** What every object written carries; the body comes from the stream. */
export type UploadParams = Pick<
  PutObjectCommandInput,
  "Bucket" | "Key" | "ContentType" | "Metadata" | "ServerSideEncryption" | "SSEKMSKeyId" | "BucketKeyEnabled"
> & { Bucket: string; Key: string };

export interface UploadOptions {
  /** Part size in bytes (5 MiB at least, as S3 requires). */
  readonly partBytes: number;
  /** Parts uploading at once. */
  readonly queueSize: number;
  /** When it aborts, the upload stops at once and rejects with an `AbortError`. */
  readonly signal?: AbortSignal | undefined;
  /** Most parts in one upload: S3's limit, 10,000 (lower only to test reaching it). */
  readonly maxParts?: number;
}

/**
 * Streams `body` to one S3 object with `@aws-sdk/lib-storage`: a single PutObject when it fits in
 * one part, else a multipart upload with `queueSize` parts in flight (CRC32 part checksums when the
 * client computes checksums, its default; listed again in CompleteMultipartUpload). Metadata and
 * encryption are set at creation. On a failure of the body or of a request, lib-storage aborts the
 * multipart upload before this rejects, so no part is left behind; it stops reading `body`, which
 * ends (destroyed) with it. On `signal`, every request in flight is cancelled, AbortMultipartUpload
 * is sent at once (bounded to 2 s) and this rejects; nothing this upload sent can complete later
 * (the bucket's lifecycle rule removes a part S3 kept from a cancelled request).
 * @throws AwsCallError (a request failed), the error `body` failed with, DasDecryptError (more
 *   than `maxParts` parts), or an `AbortError` when `signal` aborts.
 */
export async function uploadStream(
  s3: S3Client,
  params: UploadParams,
  body: AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted === true) throw abortError();
  const at: ErrorLocation = { bucket: params.Bucket, key: params.Key };
  const limit = options.partBytes * (options.maxParts ?? MAX_PARTS);
  const abortController = new AbortController();
  const upload = new Upload({
    client: cancelledWith(s3, abortController.signal),
    params: {
      ...params,
      Body: Readable.from(withinLimit(body, limit, options.partBytes, at), { objectMode: false }),
    },
    partSize: options.partBytes,
    queueSize: options.queueSize,
    abortController,
  });
  const stop = () => abortController.abort();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    await upload.done();
  } catch (error) {
    // Read from the controller: TypeScript would keep `signal.aborted` narrowed from the first check.
    if (abortController.signal.aborted) await abortNow(s3, params, upload.uploadId);
    // The SDK's answers carry `$metadata`; the body's own errors pass as they are. Every request of
    // an upload (PutObject, CreateMultipartUpload, UploadPart, Complete) is authorized as s3:PutObject.
    if (error instanceof Error && "$metadata" in error) throw new AwsCallError("s3:PutObject", error, at);
    throw error;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

/**
 * The client as lib-storage uses it: every request it sends carries `signal`, so a deadline
 * cancels the parts in flight and a PutObject or CompleteMultipartUpload cannot land afterwards.
 */
function cancelledWith(s3: S3Client, signal: AbortSignal): S3Client {
  const client = Object.create(s3) as S3Client;
  const send = (command: Parameters<S3Client["send"]>[0], options?: { abortSignal?: AbortSignal }) =>
    s3.send(command, { ...options, abortSignal: signal });
  Object.defineProperty(client, "send", { value: send });
  return client;
}

function abortError(): Error {
  return Object.assign(new Error("Upload aborted."), { name: "AbortError" });
}

/** Sends AbortMultipartUpload for `uploadId`, if there is one, for at most `ABORT_MS`. */
async function abortNow(s3: S3Client, params: UploadParams, uploadId: string | undefined): Promise<void> {
  if (uploadId === undefined) return;
  await s3
    .send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId }), {
      abortSignal: AbortSignal.timeout(ABORT_MS),
    })
    .catch(() => undefined);
}

/** Passes `body` through, failing once it holds more bytes than `limit` parts can take. */
async function* withinLimit(
  body: AsyncIterable<Uint8Array>,
  limit: number,
  partBytes: number,
  at: ErrorLocation,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) {
      throw new DasDecryptError(
        `the output needs more than ${limit / partBytes} parts of ${partBytes / 1048576} MiB; raise UPLOAD_PART_SIZE_MB`,
        at,
      );
    }
    yield chunk;
  }
}
