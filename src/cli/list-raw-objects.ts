import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { AwsCallError } from "../config/errors.ts";
import { hourFolders } from "./s3-url.ts";

/** A raw object found by listing. */
export interface ListedObject {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

export interface ListOptions {
  readonly bucket: string;
  readonly prefix: string;
  /** Hour range (epoch ms, UTC): list only the Firehose `YYYY/MM/dd/HH/` folders in it. */
  readonly fromMs?: number;
  readonly toMs?: number;
  /** Keys at or before this one are passed over (resuming an interrupted run). */
  readonly startAfter?: string;
  /** Keys to leave out (the function's own output and quarantine). */
  readonly exclude: (key: string) => boolean;
}

/**
 * Lists raw objects in key order: with an hour range, only the hour folders of the Firehose
 * layout under the prefix (so a year of data is not listed to reprocess a day); otherwise
 * everything under the prefix.
 * @throws AwsCallError when S3 refuses the listing.
 */
export async function* listRawObjects(s3: S3Client, options: ListOptions): AsyncGenerator<ListedObject> {
  const prefixes =
    options.fromMs !== undefined && options.toMs !== undefined
      ? hourFolders(options.fromMs, options.toMs).map((folder) => `${options.prefix}${folder}`)
      : [options.prefix];
  for (const prefix of prefixes) {
    let token: string | undefined;
    do {
      const page = await listPage(s3, {
        Bucket: options.bucket,
        Prefix: prefix,
        ...(token === undefined ? {} : { ContinuationToken: token }),
        ...(options.startAfter !== undefined && options.startAfter > prefix
          ? { StartAfter: options.startAfter }
          : {}),
      });
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? "";
        if (key === "" || key.endsWith("/") || options.exclude(key)) continue;
        if (options.startAfter !== undefined && key <= options.startAfter) continue;
        yield {
          bucket: options.bucket,
          key,
          etag: (object.ETag ?? "").replace(/"/g, ""),
          size: object.Size ?? 0,
        };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }
}

/**
 * One page of ListObjectsV2 (allowed by `s3:ListBucket`).
 * @throws AwsCallError locating the bucket and prefix.
 */
export async function listPage(
  s3: S3Client,
  input: ListObjectsV2Command["input"] & { Bucket: string; Prefix: string },
): Promise<ListObjectsV2CommandOutput> {
  try {
    return await s3.send(new ListObjectsV2Command(input));
  } catch (error) {
    throw new AwsCallError("s3:ListBucket", error, { bucket: input.Bucket, key: input.Prefix });
  }
}
