import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CliIo, runCli } from "../../src/cli/main.ts";
import { createProgress } from "../../src/cli/progress.ts";
import { reprocess } from "../../src/cli/reprocess.ts";
import { createClients } from "../../src/clients.ts";
import { loadConfig } from "../../src/config.ts";
import { ENGINES, type Engine } from "../../src/local/das-events.ts";
import { buildFirehoseObject, expectedEventLines, type InnerRecord } from "../../src/local/fixtures.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { getBytes, headMetadata, listKeys, putObject, readLines } from "../support/harness.ts";

const BUCKET = "das-cli";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";
const resourceOf = (engine: Engine) => (engine.startsWith("aurora") ? CLUSTER : DB);

let stack: LocalStack;
let scratch: string;
const written: { key: string; records: InnerRecord[] }[] = [];

/** Runs the CLI in this process and returns its exit code and output. */
async function cli(args: string[], env: Record<string, string> = {}, signal?: AbortSignal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const io: CliIo = {
    env: { ...process.env, ...stack.env, DAS_RESOURCE_ID: CLUSTER, ...env },
    stdout,
    stderr,
    ...(signal === undefined ? {} : { signal }),
  };
  const code = await runCli(args, io);
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  scratch = await mkdtemp(join(tmpdir(), "das-cli-"));
  // Two objects in each of four Firehose hours, 09 to 12.
  for (const hour of ["09", "10", "11", "12"]) {
    for (const n of [1, 2]) {
      const key = `raw/2026/11/25/${hour}/das-stream-1-2026-11-25-${hour}-0${n}-00-uuid${n}`;
      const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        engine: "aurora-postgresql",
        resourceId: CLUSTER,
        records: 4,
        seed: Number(hour) * 10 + n,
      });
      await putObject(stack, BUCKET, key, fixture.body);
      written.push({ key, records: fixture.records });
    }
  }
});
afterAll(async () => {
  await stack.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe("das-decrypt reprocess", () => {
  test("--local over an hour range decrypts exactly the objects of those hours, then skips them as up to date", async () => {
    const range = ["--from", "2026-11-25T10", "--to", "2026-11-25T12"];
    const first = await cli(["reprocess", `s3://${BUCKET}/raw/`, ...range, "--local"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("4 objects: 4 sent, 0 up to date, 0 failed");
    const outputs = await listKeys(stack, BUCKET, "decrypted/");
    expect(outputs).toEqual(
      written.filter(({ key }) => /\/25\/(10|11)\//.test(key)).map(({ key }) => `decrypted/${key}.gz`),
    );
    for (const { key, records } of written.filter(({ key }) => /\/25\/(10|11)\//.test(key))) {
      expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(expectedEventLines(records));
    }
    const again = await cli(["reprocess", `s3://${BUCKET}/raw/`, ...range, "--local"]);
    expect(again.stdout).toContain("4 objects: 0 sent, 4 up to date, 0 failed");
    const forced = await cli(["reprocess", `s3://${BUCKET}/raw/`, ...range, "--local", "--force"]);
    expect(forced.stdout).toContain("4 objects: 4 sent, 0 up to date, 0 failed");
  });

  test("a source overwritten since its twin was written is not up to date", async () => {
    const { key } = written[2] as { key: string };
    const before = await headMetadata(stack, BUCKET, `decrypted/${key}.gz`);
    const replacement = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 2,
      seed: 99,
    });
    await putObject(stack, BUCKET, key, replacement.body);
    const run = await cli(["reprocess", `s3://${BUCKET}/raw/2026/11/25/10/`, "--local"]);
    expect(run.stdout).toContain("2 objects: 1 sent, 1 up to date, 0 failed");
    const after = await headMetadata(stack, BUCKET, `decrypted/${key}.gz`);
    expect(after["source-etag"]).not.toBe(before["source-etag"]);
    expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(
      expectedEventLines(replacement.records),
    );
  });

  test("an interrupted run reports where it stopped, and a run resumed from there does only the rest", async () => {
    const config = loadConfig({ ...stack.env, DAS_RESOURCE_ID: CLUSTER, OUTPUT_PREFIX: "resumed/" });
    const { s3 } = createClients(config);
    const interrupt = new AbortController();
    const sent: string[] = [];
    const emitter = {
      async emit(batch: readonly { key: string }[]) {
        sent.push(...batch.map((o) => o.key));
        if (sent.length === 3) interrupt.abort();
      },
    };
    const common = {
      source: { bucket: BUCKET, key: "raw/" },
      force: false,
      concurrency: 1,
      batchSize: 1,
      config,
      s3,
      emitter,
      progress: createProgress(new PassThrough()),
    };
    const first = await reprocess({ ...common, signal: interrupt.signal });
    expect(first.interrupted).toBe(true);
    expect(sent).toEqual(written.slice(0, 3).map(({ key }) => key));
    expect(first.resumeAfter).toBe(written[2]?.key);
    const second = await reprocess({
      ...common,
      ...(first.resumeAfter ? { startAfter: first.resumeAfter } : {}),
    });
    expect(second.interrupted).toBe(false);
    expect(sent).toEqual(written.map(({ key }) => key));
  });

  test("--function invokes the deployed function asynchronously, in batches, with S3-shaped events", async () => {
    const seen: {
      path: string;
      type: string | undefined;
      body: { Records: { s3: { object: { key: string } } }[] };
    }[] = [];
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (c: Buffer) => chunks.push(c));
      request.on("end", () => {
        seen.push({
          path: request.url ?? "",
          type: request.headers["x-amz-invocation-type"] as string | undefined,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        });
        response.writeHead(202, { "content-type": "application/json" });
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    // The SDK reads its endpoint from the process environment, like in production.
    process.env.AWS_ENDPOINT_URL_LAMBDA = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const run = await cli([
        "reprocess",
        `s3://${BUCKET}/raw/`,
        "--function",
        "das-decrypt-prod-decrypt",
        "--force",
        "--batch-size",
        "3",
        "--rate",
        "50",
      ]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("8 objects: 8 sent, 0 up to date, 0 failed");
    } finally {
      delete process.env.AWS_ENDPOINT_URL_LAMBDA;
      server.close();
    }
    expect(seen.map((s) => s.path)).toEqual(
      Array(3).fill("/2015-03-31/functions/das-decrypt-prod-decrypt/invocations"),
    );
    expect(seen.every((s) => s.type === "Event")).toBe(true);
    const keys = seen.flatMap((s) =>
      s.body.Records.map((r) => decodeURIComponent(r.s3.object.key.replace(/\+/g, " "))),
    );
    expect(keys.sort()).toEqual(written.map(({ key }) => key).sort());
  });

  test("--dry-run lists what it would send; --manifest writes a Batch Operations manifest and the create-job command", async () => {
    const dry = await cli([
      "reprocess",
      `s3://${BUCKET}/raw/2026/11/25/12/`,
      "--dry-run",
      "--output-prefix",
      "fresh/",
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would send s3://${BUCKET}/${written[6]?.key}`);
    expect(dry.stdout).toContain("2 objects: 2 to send, 0 up to date, 0 failed");
    expect(await listKeys(stack, BUCKET, "fresh/")).toEqual([]);
    const manifest = await cli([
      "reprocess",
      `s3://${BUCKET}/raw/`,
      "--manifest",
      `s3://${BUCKET}/batch/manifest.csv`,
      "--function",
      "arn:aws:lambda:us-east-1:111122223333:function:das-decrypt-prod-decrypt",
      "--force",
    ]);
    expect(manifest.code).toBe(0);
    const csv = (await getBytes(stack, BUCKET, "batch/manifest.csv")).toString();
    expect(csv.trim().split("\n")).toEqual(written.map(({ key }) => `${BUCKET},${encodeURIComponent(key)}`));
    expect(manifest.stdout).toContain("aws s3control create-job");
    expect(manifest.stdout).toContain('"InvocationSchemaVersion":"2.0"');
    expect(manifest.stdout).toContain(`arn:aws:s3:::${BUCKET}/batch/manifest.csv`);
  });

  test.each([
    [["reprocess", "s3://b/raw/"], /choose where events go/],
    [
      ["reprocess", "s3://b/raw/", "--local", "--from", "yesterday", "--to", "2026-11-25T00"],
      /--from must be an hour/,
    ],
    [["reprocess", "bucket/raw/", "--local"], /is not an s3:\/\/bucket\/key address/],
    [
      ["reprocess", "s3://b/raw/", "--local", "--resource-id", "nope"],
      /^das-decrypt: DAS_RESOURCE_ID must be/,
    ],
  ])("bad usage %j exits 2 with one clear line", async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(message);
  });
});

describe("das-decrypt cat", () => {
  test.each(ENGINES)(
    "%s: an S3 object and the same bytes as a local file decrypt to the function's lines",
    async (engine) => {
      const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        engine,
        resourceId: resourceOf(engine),
        records: 8,
        eventsPerRecord: 2,
        suite: engine === "aurora-mysql" ? "signed" : "unsigned",
        gzip: engine === "oracle",
        heartbeatEvery: 4,
      });
      const key = `cat/${engine}/2026/11/25/10/das-1`;
      await putObject(stack, BUCKET, key, fixture.body);
      const file = join(scratch, `${engine}.bin`);
      await writeFile(file, fixture.body);
      const env = { DAS_RESOURCE_ID: resourceOf(engine) };
      for (const source of [`s3://${BUCKET}/${key}`, file]) {
        const run = await cli(["cat", source], env);
        expect(run.code).toBe(0);
        expect(
          run.stdout
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line)),
        ).toEqual(expectedEventLines(fixture.records));
        expect(run.stderr).toBe(
          `8 records, ${expectedEventLines(fixture.records).length} events, 0 quarantined\n`,
        );
      }
      const records = await cli(["cat", file, "--format", "records", "--include-heartbeats"], env);
      expect(
        records.stdout
          .trimEnd()
          .split("\n")
          .map((line) => JSON.parse(line)),
      ).toEqual(fixture.records);
    },
  );

  test("bad records go to --quarantine FILE and the rest still prints", async () => {
    const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 3,
    });
    const file = join(scratch, "bad.bin");
    await writeFile(
      file,
      Buffer.concat([fixture.body, Buffer.from('{"type":"x","key":"AQID","databaseActivityEvents":"!!"}')]),
    );
    const quarantine = join(scratch, "bad.quarantine.ndjson");
    const run = await cli(["cat", file, "--quarantine", quarantine]);
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(run.stderr).toBe("3 records, 3 events, 1 quarantined\n");
    const lines = (await readFile(quarantine, "utf8"))
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toMatchObject([{ recordIndex: 3, reason: "bad-base64" }]);
  });
});

test("the built command runs with plain node and prints its help", () => {
  const bin = join(import.meta.dirname, "..", "..", "dist", "das-decrypt.mjs");
  if (!existsSync(bin))
    execFileSync("npm", ["run", "--silent", "build:cli"], { cwd: join(import.meta.dirname, "..", "..") });
  const help = execFileSync(process.execPath, [bin, "reprocess", "--help"], { encoding: "utf8" });
  expect(help).toContain("Usage: das-decrypt reprocess [options] <s3-prefix>");
  expect(help).toContain("--start-after <key>");
});
