import { getEventListeners } from "node:events";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { AwsCallError, DasDecryptError } from "../../src/config/errors.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { uploadStream } from "../../src/output/upload-stream.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";

const BUCKET = "das-upload";
const PART = 5 * 1024 * 1024;

let stack: LocalStack;
let proxy: FaultProxy;
let s3: S3Client;
beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  proxy = await startFaultProxy(stack.s3Endpoint);
  s3 = proxiedClient();
});
afterAll(async () => {
  s3.destroy();
  await proxy.stop();
  await stack.stop();
});
afterEach(() => {
  proxy.rule = () => ({ kind: "pass" });
});

/** A client whose every request crosses the fault proxy (region and keys: the stack's environment). */
function proxiedClient(): S3Client {
  return new S3Client({ endpoint: proxy.endpoint, forcePathStyle: true });
}

/** Bytes no two parts share, so a part sent twice, out of order or from a reused buffer shows. */
function pattern(size: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let x = seed | 1;
  for (let i = 0; i < size; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 255;
  }
  return bytes;
}

/** `bytes` as a stream of chunks of `chunk` bytes, each a fresh copy. */
function chunked(bytes: Buffer, chunk: number): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += chunk) yield Buffer.from(bytes.subarray(at, at + chunk));
    })(),
  );
}

async function stored(key: string): Promise<Buffer> {
  const answer = await stack.s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(
    await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

async function exists(key: string): Promise<boolean> {
  return stack.s3Client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
    () => true,
    () => false,
  );
}

function opsOn(key: string, from: number): string[] {
  return proxy.requests
    .slice(from)
    .filter((request) => request.path === `/${BUCKET}/${key}`)
    .map((request) => request.operation);
}

describe("what is stored equals what was streamed, whatever the sizes", () => {
  const cases = [
    { size: 0, chunk: 1 },
    { size: 1, chunk: 1 },
    { size: 1000, chunk: 7 },
    { size: PART - 1, chunk: 65536 },
    { size: PART, chunk: 16384 },
    { size: PART + 1, chunk: 16384 },
    { size: 3 * PART + 17, chunk: 100_003 },
    { size: 2 * PART, chunk: 2 * PART },
  ];
  test.each(cases)("$size bytes in chunks of $chunk", async ({ size, chunk }) => {
    const key = `sizes/${size}-${chunk}`;
    const bytes = pattern(size, size + chunk);
    const from = proxy.requests.length;
    await uploadStream(s3, { Bucket: BUCKET, Key: key }, chunked(bytes, chunk), {
      partBytes: PART,
      queueSize: 2,
    });
    expect((await stored(key)).equals(bytes)).toBe(true);
    const parts = Math.ceil(size / PART);
    expect(opsOn(key, from)).toEqual(
      parts <= 1
        ? ["PutObject"]
        : ["CreateMultipartUpload", ...Array(parts).fill("UploadPart"), "CompleteMultipartUpload"],
    );
    expect(proxy.danglingUploads()).toEqual([]);
  });
});

test("parts carry CRC32 checksums, asked for when the upload is created, as lib-storage does", async () => {
  const key = "checksums/three-parts";
  const from = proxy.requests.length;
  await uploadStream(s3, { Bucket: BUCKET, Key: key }, chunked(pattern(2 * PART + 5, 3), 65536), {
    partBytes: PART,
    queueSize: 2,
  });
  const seen = proxy.requests.slice(from);
  expect(seen.find((r) => r.operation === "CreateMultipartUpload")?.headers["x-amz-checksum-algorithm"]).toBe(
    "CRC32",
  );
  const parts = seen.filter((r) => r.operation === "UploadPart");
  expect(parts).toHaveLength(3);
  for (const part of parts) expect(part.headers["x-amz-checksum-crc32"]).toMatch(/^[A-Za-z0-9+/]{6}==$/);
});

test("the content type, metadata and SSE-KMS settings reach S3 on a multipart upload", async () => {
  const key = "params/multipart";
  const from = proxy.requests.length;
  const params = {
    Bucket: BUCKET,
    Key: key,
    ContentType: "application/x-ndjson",
    Metadata: { "das-format": "ndjson" },
    ServerSideEncryption: "aws:kms" as const,
    SSEKMSKeyId: "alias/audit",
    BucketKeyEnabled: true,
  };
  await uploadStream(s3, params, chunked(pattern(PART + 3, 4), PART), {
    partBytes: PART,
    queueSize: 2,
  });
  const create = proxy.requests.slice(from).find((r) => r.operation === "CreateMultipartUpload");
  expect(create?.headers).toMatchObject({
    "content-type": "application/x-ndjson",
    "x-amz-meta-das-format": "ndjson",
    "x-amz-server-side-encryption": "aws:kms",
    "x-amz-server-side-encryption-aws-kms-key-id": "alias/audit",
    "x-amz-server-side-encryption-bucket-key-enabled": "true",
  });
  const head = await stack.s3Client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
  expect(head.ContentType).toBe("application/x-ndjson");
  expect(head.Metadata).toEqual({ "das-format": "ndjson" });
});

test("a body that fails midway: its own error, the multipart upload aborted, no object", async () => {
  const key = "failures/body";
  const from = proxy.requests.length;
  const broken = new Error("the producer failed");
  const body = Readable.from(
    (async function* () {
      yield pattern(PART + 10, 9);
      yield pattern(PART, 10);
      throw broken;
    })(),
  );
  await expect(
    uploadStream(s3, { Bucket: BUCKET, Key: key }, body, { partBytes: PART, queueSize: 2 }),
  ).rejects.toBe(broken);
  expect(opsOn(key, from)).toContain("AbortMultipartUpload");
  expect(proxy.danglingUploads()).toEqual([]);
  expect(await exists(key)).toBe(false);
});

test("an UploadPart refused every time: an AwsCallError naming the s3:PutObject it is authorized as, aborted, nothing left", async () => {
  const key = "failures/part";
  const from = proxy.requests.length;
  proxy.rule = (request) =>
    request.operation === "UploadPart" && request.query.get("partNumber") === "2"
      ? { kind: "fail", status: 403, code: "AccessDenied" }
      : { kind: "pass" };
  const body = chunked(pattern(4 * PART, 11), 65536);
  const error = await uploadStream(s3, { Bucket: BUCKET, Key: key }, body, {
    partBytes: PART,
    queueSize: 2,
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AwsCallError);
  expect(error).toMatchObject({ operation: "s3:PutObject", retryable: false, key });
  expect((error as AwsCallError).errorName).toBe("AccessDenied");
  expect(opsOn(key, from).at(-1)).toBe("AbortMultipartUpload");
  expect(proxy.danglingUploads()).toEqual([]);
  expect(await exists(key)).toBe(false);
  // The upload stopped reading it: it ends with the upload.
  expect(body.destroyed).toBe(true);
});

test("CompleteMultipartUpload refused: an AwsCallError naming s3:PutObject (its IAM action) and the S3 error, and the upload aborted", async () => {
  const key = "failures/complete";
  proxy.rule = (request) =>
    request.operation === "CompleteMultipartUpload"
      ? { kind: "fail", status: 400, code: "InvalidPart" }
      : { kind: "pass" };
  const error = await uploadStream(s3, { Bucket: BUCKET, Key: key }, chunked(pattern(PART + 1, 12), 65536), {
    partBytes: PART,
    queueSize: 2,
  }).catch((e: unknown) => e);
  expect(error).toMatchObject({ name: "AwsCallError", operation: "s3:PutObject", errorName: "InvalidPart" });
  expect(proxy.danglingUploads()).toEqual([]);
  expect(await exists(key)).toBe(false);
});

test("an abort signal rejects at once, without waiting for parts in flight, and aborts the upload", async () => {
  const key = "failures/deadline";
  proxy.rule = (request) =>
    request.operation === "UploadPart" ? { kind: "delay", ms: 5_000 } : { kind: "pass" };
  const controller = new AbortController();
  const started = performance.now();
  const uploading = uploadStream(s3, { Bucket: BUCKET, Key: key }, chunked(pattern(3 * PART, 13), 65536), {
    partBytes: PART,
    queueSize: 2,
    signal: controller.signal,
  });
  await sleep(500);
  controller.abort();
  await expect(uploading).rejects.toMatchObject({ name: "AbortError" });
  expect(performance.now() - started).toBeLessThan(2_500);
  expect(proxy.danglingUploads()).toEqual([]);
  expect(await exists(key)).toBe(false);
});

test("CompleteMultipartUpload lists each part's ETag and the checksum S3 answered with, in part order", async () => {
  const key = "checksums/complete";
  const client = proxiedClient();
  // The local server does not echo part checksums as S3 does: answer with the one each part sent.
  const sent = new Map<number, string>();
  let completed: { PartNumber?: number; ETag?: string; ChecksumCRC32?: string }[] | undefined;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const request = args.request as { headers: Record<string, string> };
      const input = args.input as { PartNumber?: number; MultipartUpload?: { Parts?: typeof completed } };
      if (context.commandName === "UploadPartCommand") {
        const checksum = request.headers["x-amz-checksum-crc32"] ?? "";
        sent.set(input.PartNumber ?? 0, checksum);
        (result.output as { ChecksumCRC32?: string }).ChecksumCRC32 = checksum;
      }
      if (context.commandName === "CompleteMultipartUploadCommand") completed = input.MultipartUpload?.Parts;
      return result;
    },
    { step: "finalizeRequest" },
  );
  const bytes = pattern(3 * PART + 99, 15);
  await uploadStream(client, { Bucket: BUCKET, Key: key }, chunked(bytes, 65536), {
    partBytes: PART,
    queueSize: 3,
  });
  client.destroy();
  // Only the requests are checked here: given part checksums, the local server stores an empty object.
  expect(sent.size).toBe(4);
  expect(completed?.map((part) => part.PartNumber)).toEqual([1, 2, 3, 4]);
  for (const part of completed ?? []) {
    expect(part.ETag).toMatch(/^"?[0-9a-f]{32}"?$/);
    expect(part.ChecksumCRC32).toBe(sent.get(part.PartNumber ?? 0));
  }
});

test("no abort listener is left on the signal, after an upload that succeeds or one that fails", async () => {
  const controller = new AbortController();
  const options = { partBytes: PART, queueSize: 2, signal: controller.signal };
  await uploadStream(
    s3,
    { Bucket: BUCKET, Key: "listeners/ok" },
    chunked(pattern(PART + 1, 16), 65536),
    options,
  );
  expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  const broken = Readable.from(
    (async function* () {
      yield pattern(10, 17);
      throw new Error("the producer failed");
    })(),
  );
  await expect(
    uploadStream(s3, { Bucket: BUCKET, Key: "listeners/failed" }, broken, options),
  ).rejects.toThrow("the producer failed");
  expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
});

test("an output past the part limit fails naming the limit and the setting to raise, and is aborted", async () => {
  const key = "failures/part-limit";
  const from = proxy.requests.length;
  const error = await uploadStream(
    s3,
    { Bucket: BUCKET, Key: key },
    chunked(pattern(2 * PART + 1, 18), 65536),
    {
      partBytes: PART,
      queueSize: 2,
      maxParts: 2,
    },
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DasDecryptError);
  expect((error as Error).message).toContain("more than 2 parts of 5 MiB; raise UPLOAD_PART_SIZE_MB");
  expect(error).toMatchObject({ key, retryable: false });
  expect(opsOn(key, from)[0]).toBe("CreateMultipartUpload");
  expect(opsOn(key, from).at(-1)).toBe("AbortMultipartUpload");
  expect(proxy.danglingUploads()).toEqual([]);
  expect(await exists(key)).toBe(false);
});
