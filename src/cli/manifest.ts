import { writeFile } from "node:fs/promises";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ListedObject } from "./list-raw-objects.ts";
import { parseS3Url } from "./s3-url.ts";

/** An S3 Batch Operations CSV manifest: `bucket,key` per line, keys URL-encoded. */
export function manifestCsv(objects: readonly ListedObject[]): string {
  return objects.map((o) => `${o.bucket},${encodeURIComponent(o.key)}\n`).join("");
}

/**
 * Writes the manifest to S3 (`s3://…`) or a local file and returns the `aws s3control create-job`
 * command that makes S3 Batch Operations invoke the function once per object.
 */
export async function writeManifest(
  s3: S3Client,
  target: string,
  objects: readonly ListedObject[],
  functionName: string | undefined,
): Promise<string> {
  const body = manifestCsv(objects);
  let location = '"ObjectArn":"arn:aws:s3:::<manifest bucket>/<manifest key>","ETag":"<manifest ETag>"';
  let reportBucket = "<report bucket>";
  if (target.startsWith("s3://")) {
    const { bucket, key } = parseS3Url(target);
    const answer = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "text/csv" }),
    );
    location = `"ObjectArn":"arn:aws:s3:::${bucket}/${key}","ETag":"${(answer.ETag ?? "").replace(/"/g, "")}"`;
    reportBucket = bucket;
  } else {
    await writeFile(target, body);
  }
  const fn = functionName ?? "<function ARN>";
  return [
    "aws s3control create-job --account-id <account id> --no-confirmation-required --priority 10 \\",
    `  --role-arn <role S3 Batch Operations assumes> \\`,
    `  --operation '{"LambdaInvoke":{"FunctionArn":"${fn}","InvocationSchemaVersion":"2.0"}}' \\`,
    `  --manifest '{"Spec":{"Format":"S3BatchOperations_CSV_20180820","Fields":["Bucket","Key"]},"Location":{${location}}}' \\`,
    `  --report '{"Bucket":"arn:aws:s3:::${reportBucket}","Prefix":"batch-reports/","Format":"Report_CSV_20180820","Enabled":true,"ReportScope":"FailedTasksOnly"}'`,
  ].join("\n");
}
