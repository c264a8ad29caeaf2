import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildFirehoseObject, expectedEventLines } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { putObject, readLines } from "../support/harness.ts";
import { readTemplate, unzip } from "./packaged.ts";

const BUCKET = "das-bundle";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
let stack: LocalStack;
let unpacked: string;

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  unpacked = await mkdtemp(join(tmpdir(), "das-bundle-"));
}, 300_000);
afterAll(async () => {
  await stack.stop();
  await rm(unpacked, { recursive: true, force: true });
});

test("the packaged zip, loaded the way Lambda loads it, decrypts a fixture against local S3 and KMS", async () => {
  const template = readTemplate();
  const fn = template.Resources.DecryptLambdaFunction?.Properties as {
    Handler: string;
    Code: { S3Key: string };
  };
  const files = unzip(
    join(import.meta.dirname, "..", "..", ".serverless", fn.Code.S3Key.split("/").at(-1) ?? ""),
  );
  for (const [name, bytes] of files) {
    await mkdir(dirname(join(unpacked, name)), { recursive: true });
    await writeFile(join(unpacked, name), bytes);
  }
  // Nothing but the bundle and its source map: no node_modules to fall back on.
  expect([...files.keys()].sort()).toEqual(["functions/decrypt.mjs", "functions/decrypt.mjs.map"]);

  // Lambda's rule: "<file>.<export>", the file being <file>.mjs / .js / .cjs under the task root.
  const [file, exported] = [
    fn.Handler.slice(0, fn.Handler.lastIndexOf(".")),
    fn.Handler.split(".").at(-1) ?? "",
  ];
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-mysql",
    resourceId: CLUSTER,
    records: 30,
    eventsPerRecord: 2,
    suite: "signed",
    gzip: true,
  });
  const key = "raw/2026/11/25/10/das-bundle-1-2026-11-25-10-00-00-x.gz";
  await putObject(stack, BUCKET, key, fixture.body);
  // Two decryption workers: they load the zipped bundle itself, which must then serve the pool only.
  Object.assign(process.env, {
    DAS_RESOURCE_ID: CLUSTER,
    POWERTOOLS_LOG_LEVEL: "WARN",
    DECRYPT_WORKERS: "2",
  });
  const module = (await import(pathToFileURL(join(unpacked, `${file}.mjs`)).href)) as Record<string, unknown>;
  const handler = module[exported] as (event: unknown, context: unknown) => Promise<unknown>;
  expect(typeof handler).toBe("function");
  const context = { getRemainingTimeInMillis: () => 60_000 };
  await handler(s3Notification(BUCKET, key), context);
  expect(await readLines(stack, BUCKET, `decrypted/${key}`)).toEqual(expectedEventLines(fixture.records));
});
