import type { Readable } from "node:stream";
import { CopyObjectCommand, GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AwsCallError } from "./errors.ts";

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
  /** @throws AwsCallError */
  get(bucket: string, key: string, signal?: AbortSignal): Promise<OpenedObject>;
  /**
   * Streams `body` to `target` (multipart past one part). If `body` errors, or any request fails,
   * the multipart upload is aborted before this rejects, so no partial object is left behind.
   * @throws AwsCallError, or the error `body` was destroyed with.
   */
  put(target: PutTarget, body: Readable): Promise<void>;
  /** Replaces an object's user metadata in place (a same-key copy). @throws AwsCallError */
  replaceMetadata(target: PutTarget): Promise<void>;
}

export interface S3StoreOptions {
  readonly partBytes: number;
  readonly queueSize: number;
}

/** The S3 implementation of {@link ObjectStore}, over one shared client. */
export function createS3Store(s3: S3Client, options: S3StoreOptions): ObjectStore {
  return {
    async get(bucket, key, signal) {
      try {
        const answer = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: key }),
          signal === undefined ? {} : { abortSignal: signal },
        );
        return {
          body: answer.Body as Readable,
          etag: (answer.ETag ?? "").replace(/"/g, ""),
          size: answer.ContentLength ?? 0,
        };
      } catch (error) {
        throw new AwsCallError("s3:GetObject", error, { bucket, key });
      }
    },

    async put(target, body) {
      const upload = new Upload({
        client: s3,
        params: {
          Bucket: target.bucket,
          Key: target.key,
          Body: body,
          ContentType: target.contentType,
          Metadata: target.metadata,
        },
        partSize: options.partBytes,
        queueSize: options.queueSize,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (error) {
        // A body error is the producer's failure: pass it on as it is.
        if (body.errored !== null && body.errored === error) throw error;
        throw new AwsCallError("s3:PutObject (multipart upload)", error, {
          bucket: target.bucket,
          key: target.key,
        });
      }
    },

    async replaceMetadata(target) {
      try {
        await s3.send(
          new CopyObjectCommand({
            Bucket: target.bucket,
            Key: target.key,
            CopySource: `${target.bucket}/${encodeURIComponent(target.key)}`,
            MetadataDirective: "REPLACE",
            ContentType: target.contentType,
            Metadata: target.metadata,
          }),
        );
      } catch (error) {
        throw new AwsCallError("s3:CopyObject (metadata)", error, { bucket: target.bucket, key: target.key });
      }
    },
  };
}
