import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { BufferPool } from "./buffer-pool.ts";
import { AwsCallError, DasDecryptError, type ErrorLocation } from "./errors.ts";

/** S3 takes at most this many parts in one multipart upload. */
const MAX_PARTS = 10_000;
/** How long AbortMultipartUpload may take after a failure (the Lambda deadline keeps 5 s). */
const ABORT_MS = 2_000;

/** What every object written carries; the body comes from the stream. */
export type UploadParams = Pick<
  PutObjectCommandInput,
  "Bucket" | "Key" | "ContentType" | "Metadata" | "ServerSideEncryption" | "SSEKMSKeyId" | "BucketKeyEnabled"
> & { Bucket: string; Key: string };

export interface UploadOptions {
  /** Where part buffers come from (their size is the part size). */
  readonly pool: BufferPool;
  /** Parts uploading at once (one more is being filled meanwhile). */
  readonly queueSize: number;
  /** When it aborts, the upload stops at once, is aborted on S3 and rejects with an `AbortError`. */
  readonly signal?: AbortSignal | undefined;
  /** Most parts in one upload: S3's limit, 10,000 (lower only to test reaching it). */
  readonly maxParts?: number;
}

/**
 * Streams `body` to one S3 object: a single PutObject when it fits in one part, else a multipart
 * upload with `queueSize` parts in flight, each copied into a buffer of `pool`. The requests are
 * those `@aws-sdk/lib-storage` sends: CreateMultipartUpload asks for CRC32 part checksums when
 * the client computes checksums (its default), and CompleteMultipartUpload lists them.
 * On any failure the multipart upload is aborted before this rejects, so no part is left behind.
 * `body` is never destroyed here: on failure it is left unread, for its owner to destroy.
 * @throws AwsCallError (a request failed), the error `body` failed with, DasDecryptError (more
 *   than 10,000 parts), or an `AbortError` when `signal` aborts.
 */
export async function uploadStream(
  s3: S3Client,
  params: UploadParams,
  body: AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<void> {
  const { signal } = options;
  const upload = new MultipartWriter(s3, params, options);
  // Settles only when `signal` aborts: then this call rejects at once, whatever is in flight.
  let rejectAborted: (error: Error) => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    rejectAborted = reject;
  });
  const stop = () => {
    upload.cancel();
    rejectAborted(abortError());
  };
  if (signal?.aborted === true) stop();
  else signal?.addEventListener("abort", stop, { once: true });
  try {
    await Promise.race([upload.run(body), aborted]);
  } catch (error) {
    upload.cancel();
    // A deadline cannot wait for the parts in flight; otherwise they end at once, being cancelled.
    if (signal?.aborted !== true) await upload.settled();
    await upload.abortOnS3();
    throw error;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

/** One upload's state: the parts in flight, those done, the first failure. */
class MultipartWriter {
  readonly #s3: S3Client;
  readonly #params: UploadParams;
  readonly #pool: BufferPool;
  readonly #queueSize: number;
  readonly #maxParts: number;
  readonly #at: ErrorLocation;
  readonly #cancel = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #done: CompletedPart[] = [];
  #failure: unknown;
  /** Set while waiting for the body: makes that wait end with the failure. */
  #wake: (() => void) | undefined;
  #uploadId: string | undefined;
  #parts = 0;

  constructor(s3: S3Client, params: UploadParams, options: UploadOptions) {
    this.#s3 = s3;
    this.#params = params;
    this.#pool = options.pool;
    this.#queueSize = Math.max(1, options.queueSize);
    this.#maxParts = options.maxParts ?? MAX_PARTS;
    this.#at = { bucket: params.Bucket, key: params.Key };
  }

  /** Reads `body` to its end, part by part, and completes the object. */
  async run(body: AsyncIterable<Uint8Array>): Promise<void> {
    // Read by hand: `for await` would destroy `body` on the way out of a failure.
    const chunks = body[Symbol.asyncIterator]();
    let part: Buffer | undefined;
    let filled = 0;
    try {
      for (;;) {
        const next = await this.#nextChunk(chunks);
        if (next.done === true) break;
        const chunk = next.value;
        for (let at = 0; at < chunk.length; ) {
          if (part === undefined) {
            part = this.#pool.take();
          } else if (filled === part.length) {
            // Full, and more is coming: it goes as a part of a multipart upload.
            const full = part;
            part = undefined;
            await this.#send(full, filled);
            part = this.#pool.take();
            filled = 0;
          }
          const n = Math.min(part.length - filled, chunk.length - at);
          part.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
        }
      }
      if (this.#parts === 0) {
        const whole = part;
        part = undefined;
        await this.#putWhole(whole === undefined ? Buffer.alloc(0) : whole.subarray(0, filled));
        if (whole !== undefined) this.#pool.give(whole);
        return;
      }
      if (part !== undefined && filled > 0) {
        const last = part;
        part = undefined;
        await this.#send(last, filled);
      }
      await this.settled();
      this.#throwIfFailed();
      await this.#complete();
    } finally {
      // The part being filled was never handed to a request: it can be used again.
      if (part !== undefined) this.#pool.give(part);
    }
  }

  /** The body's next chunk; a failure meanwhile ends the wait at once. */
  #nextChunk(chunks: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> {
    this.#throwIfFailed();
    // A fresh promise each time: racing one long-lived promise would pile up a reaction per chunk.
    return new Promise((resolve, reject) => {
      const wake = () => reject(this.#failure);
      this.#wake = wake;
      const done = () => {
        // Only this wait's own: the next one may already be set.
        if (this.#wake === wake) this.#wake = undefined;
      };
      chunks.next().then(
        (next) => {
          done();
          resolve(next);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  /** Records the first failure, cancels every request and ends a wait for the body. */
  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#cancel.abort();
    this.#wake?.();
  }

  /** Stops every request of this upload, and its reading. */
  cancel(): void {
    this.#fail(abortError());
  }

  /** Resolves once no part is in flight. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  /**
   * Sends AbortMultipartUpload if one was created, for at most `ABORT_MS` (a deadline is near).
   * What this leaves (it failed, or CreateMultipartUpload was cut off by the signal and S3 made the
   * upload anyway) is for the bucket's lifecycle rule, which aborts incomplete uploads after a day.
   */
  async abortOnS3(): Promise<void> {
    if (this.#uploadId === undefined) return;
    const abort = { Bucket: this.#params.Bucket, Key: this.#params.Key, UploadId: this.#uploadId };
    this.#uploadId = undefined;
    await this.#s3
      .send(new AbortMultipartUploadCommand(abort), { abortSignal: AbortSignal.timeout(ABORT_MS) })
      .catch(() => undefined);
  }

  /** Starts uploading `length` bytes of `part`, once fewer than `queueSize` parts are in flight. */
  async #send(part: Buffer, length: number): Promise<void> {
    this.#throwIfFailed();
    if (this.#parts === this.#maxParts) {
      this.#pool.give(part);
      throw new DasDecryptError(
        `the output needs more than ${this.#maxParts} parts of ${this.#pool.size / 1048576} MiB; raise UPLOAD_PART_SIZE_MB`,
        this.#at,
      );
    }
    this.#parts += 1;
    const partNumber = this.#parts;
    while (this.#inFlight.size >= this.#queueSize) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
    this.#uploadId ??= await this.#create();
    const request = new UploadPartCommand({
      Bucket: this.#params.Bucket,
      Key: this.#params.Key,
      UploadId: this.#uploadId,
      PartNumber: partNumber,
      Body: part.subarray(0, length),
    });
    const sending: Promise<void> = this.#s3
      .send(request, { abortSignal: this.#cancel.signal })
      .then((answer) => {
        const { ETag, ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256 } =
          answer;
        if (ETag === undefined) throw new Error(`UploadPart ${partNumber} answered without an ETag`);
        // Whichever checksum S3 answered with goes into Complete; absent ones are not serialized.
        this.#done.push({
          PartNumber: partNumber,
          ETag,
          ChecksumCRC32,
          ChecksumCRC32C,
          ChecksumCRC64NVME,
          ChecksumSHA1,
          ChecksumSHA256,
        });
        // Only a part S3 took is reused: a cancelled request may still hold its buffer.
        this.#pool.give(part);
      })
      .catch((error: unknown) => this.#fail(new AwsCallError("s3:UploadPart", error, this.#at)))
      .finally(() => this.#inFlight.delete(sending));
    this.#inFlight.add(sending);
  }

  async #create(): Promise<string> {
    const checksums = await this.#s3.config.requestChecksumCalculation();
    try {
      const answer = await this.#s3.send(
        new CreateMultipartUploadCommand({
          ...this.#params,
          ...(checksums === "WHEN_SUPPORTED" ? { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 } : {}),
        }),
        { abortSignal: this.#cancel.signal },
      );
      if (answer.UploadId === undefined)
        throw new Error("CreateMultipartUpload answered without an UploadId");
      return answer.UploadId;
    } catch (error) {
      throw new AwsCallError("s3:CreateMultipartUpload", error, this.#at);
    }
  }

  async #complete(): Promise<void> {
    const parts = this.#done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    try {
      await this.#s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#params.Bucket,
          Key: this.#params.Key,
          UploadId: this.#uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: this.#cancel.signal },
      );
    } catch (error) {
      throw new AwsCallError("s3:CompleteMultipartUpload", error, this.#at);
    }
    this.#uploadId = undefined;
  }

  async #putWhole(bytes: Buffer): Promise<void> {
    try {
      await this.#s3.send(new PutObjectCommand({ ...this.#params, Body: bytes }), {
        abortSignal: this.#cancel.signal,
      });
    } catch (error) {
      throw new AwsCallError("s3:PutObject", error, this.#at);
    }
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}

function abortError(): Error {
  return Object.assign(new Error("Upload aborted."), { name: "AbortError" });
}
