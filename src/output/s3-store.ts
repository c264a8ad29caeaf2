import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  GetObjectTaggingCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { AwsCallError, isAbsentObjectError, isRetryableAwsError } from "../config/errors.ts";
import { uploadStream } from "./upload-stream.ts";

/** A source object opened for reading. */
export interface OpenedObject {
  readonly body: Readable;
  /** ETag without quotes. */
  readonly etag: string;
  readonly size: number;
}

/** Where and how an output object is written. */
export interface PutTarget {
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string;
  readonly metadata: Record<string, string>;
}

/** The S3 operations the core needs; tests may hand in a real local server or a fake. */
export interface ObjectStore {
  /**
   * Opens an object for reading. A connection that breaks mid-body is resumed from the byte where
   * it stopped (a ranged GET pinned to the ETag), a few times with backoff, before the body errors.
   * @throws AwsCallError (also raised by the body when resuming gives up).
   */
  get(bucket: string, key: string, signal?: AbortSignal): Promise<OpenedObject>;
  /**
   * Streams `body` to `target` (multipart past one part), with its metadata set at creation. If
   * `body` errors, or any request fails, the multipart upload is aborted before this rejects, so
   * no partial object is left behind; `body` is then destroyed. When `signal` aborts, the requests
   * in flight are cancelled, AbortMultipartUpload is sent and this rejects with an `AbortError`.
   * @throws AwsCallError, the error `body` was destroyed with, DasDecryptError (more than 10,000
   *   parts), or an `AbortError`.
   */
  put(target: PutTarget, body: Readable, signal?: AbortSignal): Promise<void>;
  /**
   * Sets an object's tags. Unlike metadata, tags change without writing a new version of the
   * object and fire no `ObjectCreated` event. @throws AwsCallError
   */
  putTags(
    bucket: string,
    key: string,
    tags: Readonly<Record<string, string>>,
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * An object's tags, or `undefined` when there is no such object (404, or the 403 S3 answers for
   * a missing key to a caller without `s3:ListBucket`). @throws AwsCallError
   */
  getTags(bucket: string, key: string, signal?: AbortSignal): Promise<Record<string, string> | undefined>;
  /** Deletes an object; deleting one that does not exist succeeds. @throws AwsCallError */
  delete(bucket: string, key: string, signal?: AbortSignal): Promise<void>;
}

export interface S3StoreOptions {
  readonly partBytes: number;
  readonly queueSize: number;
  /** SSE-KMS key for every object written; `undefined` leaves it to the bucket default. */
  readonly sseKmsKeyId?: string | undefined;
  /** Times a broken GetObject body is resumed before it fails (default 3). */
  readonly bodyResumes?: number;
  /** First backoff before resuming, doubled each time, with full jitter (default 100 ms). */
  readonly resumeBackoffMs?: number;
}

/** The S3 implementation of {@link ObjectStore}, over one shared client. */
export function createS3Store(s3: S3Client, options: S3StoreOptions): ObjectStore {
  const resumes = options.bodyResumes ?? 3;
  // Requested on every write (parts inherit it from CreateMultipartUpload); the bucket key keeps
  // KMS requests to one per object rather than one per part.
  const encryption =
    options.sseKmsKeyId === undefined
      ? {}
      : {
          ServerSideEncryption: "aws:kms" as const,
          SSEKMSKeyId: options.sseKmsKeyId,
          BucketKeyEnabled: true,
        };
  const backoffMs = options.resumeBackoffMs ?? 100;
  const open = async (bucket: string, key: string, signal?: AbortSignal, from?: number, etag?: string) => {
    try {
      return await s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(from === undefined ? {} : { Range: `bytes=${from}-`, IfMatch: `"${etag}"` }),
        }),
        sendOptions(signal),
      );
    } catch (error) {
      throw new AwsCallError("s3:GetObject", error, { bucket, key });
    }
  };
  return {
    async get(bucket, key, signal) {
      const first = await open(bucket, key, signal);
      const etag = (first.ETag ?? "").replace(/"/g, "");
      const size = first.ContentLength ?? 0;
      async function* resumingBody(): AsyncGenerator<Buffer> {
        let answer: GetObjectCommandOutput = first;
        let offset = 0;
        for (let attempt = 0; ; attempt += 1) {
          try {
            for await (const chunk of answer.Body as Readable) {
              offset += (chunk as Buffer).length;
              yield chunk as Buffer;
            }
            return;
          } catch (error) {
            if (attempt >= resumes || signal?.aborted === true || !isRetryableAwsError(error)) {
              throw new AwsCallError("s3:GetObject (body)", error, { bucket, key });
            }
          }
          if (offset >= size) return;
          await sleep(
            Math.random() * backoffMs * 2 ** attempt,
            undefined,
            signal === undefined ? {} : { signal },
          );
          answer = await open(bucket, key, signal, offset, etag);
        }
      }
      return { body: Readable.from(resumingBody(), { objectMode: false }), etag, size };
    },

    async put(target, body, signal) {
      const params = {
        Bucket: target.bucket,
        Key: target.key,
        ContentType: target.contentType,
        Metadata: target.metadata,
        ...encryption,
      };
      await uploadStream(s3, params, body, {
        partBytes: options.partBytes,
        queueSize: options.queueSize,
        signal,
      });
    },

    async putTags(bucket, key, tags, signal) {
      const TagSet = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
      try {
        await s3.send(
          new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet } }),
          sendOptions(signal),
        );
      } catch (error) {
        throw new AwsCallError("s3:PutObjectTagging", error, { bucket, key });
      }
    },

    async getTags(bucket, key, signal) {
      try {
        const answer = await s3.send(
          new GetObjectTaggingCommand({ Bucket: bucket, Key: key }),
          sendOptions(signal),
        );
        return Object.fromEntries((answer.TagSet ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""]));
      } catch (error) {
        if (isAbsentObjectError(error)) return undefined;
        throw new AwsCallError("s3:GetObjectTagging", error, { bucket, key });
      }
    },

    async delete(bucket, key, signal) {
      try {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), sendOptions(signal));
      } catch (error) {
        throw new AwsCallError("s3:DeleteObject", error, { bucket, key });
      }
    },
  };
}

/** The SDK's per-request options for an optional signal. */
function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}
