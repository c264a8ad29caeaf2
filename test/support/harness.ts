import { gunzipSync } from "node:zlib";
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { createHandler, type DecryptHandler, type Log } from "../../src/lambda/handler.ts";
import type { LocalStack } from "../../src/local/stack.ts";

/** What the S3 helpers below need: a client of the S3 under test (the local stack's, or moto's). */
export type S3Side = Pick<LocalStack, "s3Client">;

/** Every CapturingLog made in this test file; the suite-wide leak scan reads them all. */
export const capturedLogs = new Set<CapturingLog>();

/** A logger that keeps every line, so tests can assert on logs and scan them for leaks. */
export class CapturingLog implements Log {
  readonly lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  constructor() {
    capturedLogs.add(this);
  }
  info(message: string, extra: Record<string, unknown> = {}): void {
    this.lines.push({ level: "info", message, extra });
  }
  warn(message: string, extra: Record<string, unknown> = {}): void {
    this.lines.push({ level: "warn", message, extra });
  }
  error(message: string, extra: Record<string, unknown> = {}): void {
    this.lines.push({ level: "error", message, extra });
  }
  text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join("\n");
  }
}

export function handlerFor(
  stack: LocalStack,
  env: Record<string, string>,
  log = new CapturingLog(),
): {
  handler: DecryptHandler;
  log: CapturingLog;
} {
  return { handler: createHandler({ ...stack.env, ...env }, { logger: log }), log };
}

export async function putObject(
  stack: LocalStack,
  bucket: string,
  key: string,
  body: Buffer,
): Promise<string> {
  const answer = await stack.s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return (answer.ETag ?? "").replace(/"/g, "");
}

export async function getBytes(stack: S3Side, bucket: string, key: string): Promise<Buffer> {
  const answer = await stack.s3Client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/** The NDJSON lines of an output object, gunzipped when it is compressed. */
export async function readLines(stack: S3Side, bucket: string, key: string): Promise<unknown[]> {
  const bytes = await getBytes(stack, bucket, key);
  const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8");
  return text === ""
    ? []
    : text
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line));
}

export async function headMetadata(
  stack: LocalStack,
  bucket: string,
  key: string,
): Promise<Record<string, string>> {
  const answer = await stack.s3Client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return answer.Metadata ?? {};
}

/**
 * What the function records on an output object: its metadata (set at creation: `das-format`,
 * `source-etag`) and its tags (set after the upload: the counts), in one record.
 */
export async function outputFacts(
  stack: LocalStack,
  bucket: string,
  key: string,
): Promise<Record<string, string>> {
  const [metadata, tagging] = await Promise.all([
    headMetadata(stack, bucket, key),
    stack.s3Client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key })),
  ]);
  const tags = Object.fromEntries((tagging.TagSet ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""]));
  return { ...metadata, ...tags };
}

export async function listKeys(stack: S3Side, bucket: string, prefix = ""): Promise<string[]> {
  const answer = await stack.s3Client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (answer.Contents ?? []).map((object) => object.Key ?? "").sort();
}
