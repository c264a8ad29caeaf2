import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildFirehoseObject, expectedEventLines } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { putObject, readLines } from "../support/harness.ts";
import { readTemplate, unzip, unzipEntries } from "./packaged.ts";

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
  // Nothing but the bundle, its source map and the exec wrapper: no node_modules to fall back on.
  expect([...files.keys()].sort()).toEqual([
    "functions/decrypt.mjs",
    "functions/decrypt.mjs.map",
    "functions/node-flags.sh",
  ]);

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

test("Lambda's bootstrap, run through the packaged exec wrapper, gives node the V8 sizes of the function's NODE_OPTIONS", () => {
  const template = readTemplate();
  const fn = template.Resources.DecryptLambdaFunction?.Properties as {
    Code: { S3Key: string };
    MemorySize: number;
    Environment: { Variables: Record<string, string> };
  };
  const { AWS_LAMBDA_EXEC_WRAPPER: wrapperPath, NODE_OPTIONS: nodeOptions } = fn.Environment.Variables;
  expect(wrapperPath).toBe("/var/task/functions/node-flags.sh");
  const entries = unzipEntries(
    join(import.meta.dirname, "..", "..", ".serverless", fn.Code.S3Key.split("/").at(-1) ?? ""),
  );
  const wrapper = entries.get((wrapperPath ?? "").replace("/var/task/", ""));
  // Lambda runs the wrapper itself: it must be an executable regular file in the zip.
  expect(((wrapper?.mode ?? 0) & 0o170000).toString(8)).toBe("100000");
  expect((wrapper?.mode ?? 0) & 0o755).toBe(0o755);
  const script = join(unpacked, "node-flags.sh");
  writeFileSync(script, wrapper?.bytes ?? "", { mode: 0o755 });
  // How the nodejs runtime's /var/runtime/bootstrap starts node through a wrapper:
  //   exec -- "$wrapper" /var/lang/bin/node --expose-gc --max-http-header-size 81920 \
  //     --max-semi-space-size=<memory/10/2> --max-old-space-size=<memory - memory/10> /var/runtime/index.mjs
  const memory = fn.MemorySize;
  const newSpace = Math.floor(memory / 10);
  const probe =
    'const v8 = require("node:v8"); console.log(JSON.stringify({ limit: v8.getHeapStatistics().heap_size_limit, gc: typeof gc }))';
  const run = (command: string, args: string[]) =>
    JSON.parse(
      execFileSync(command, args, { env: { ...process.env, NODE_OPTIONS: nodeOptions }, encoding: "utf8" }),
    ) as { limit: number; gc: string };
  const bootstrapArgs = [
    "--expose-gc",
    "--max-http-header-size",
    "81920",
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memory - newSpace}`,
    "-e",
    probe,
  ];
  const direct = run(process.execPath, bootstrapArgs);
  const wrapped = run(script, [process.execPath, ...bootstrapArgs]);
  const optionsOnly = run(process.execPath, ["-e", probe]);
  // Without the wrapper the bootstrap's sizes win; through it, NODE_OPTIONS' do, and the other flags stay.
  expect(direct.limit).toBeGreaterThan(1024 * 1048576);
  expect(wrapped.limit).toBe(optionsOnly.limit);
  expect(wrapped.limit).toBeLessThan(512 * 1048576);
  expect(wrapped.gc).toBe("function");
});
