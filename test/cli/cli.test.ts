import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createProgress } from "../../src/cli/progress.ts";
import { reprocess } from "../../src/cli/reprocess.ts";
import { createClients } from "../../src/config/clients.ts";
import { loadConfig } from "../../src/config/config.ts";
import { ENGINES, type Engine } from "../../src/local/das-events.ts";
import { buildFirehoseObject, expectedEventLines, type InnerRecord } from "../../src/local/fixtures.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { getBytes, headMetadata, listKeys, putObject, readLines } from "../support/harness.ts";
import { lambdaAccepted, type Received, ROOT, runInProcess, startFakeService } from "./cli-harness.ts";

const BUCKET = "das-cli";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";
const resourceOf = (engine: Engine) => (engine.startsWith("aurora") ? CLUSTER : DB);

let stack: LocalStack;
let scratch: string;
const written: { key: string; records: InnerRecord[] }[] = [];

/** Runs the CLI in this process and returns its exit code and output. */
function cli(
  args: string[],
  env: Record<string, string> = {},
  options: { signal?: AbortSignal; tty?: boolean } = {},
) {
  return runInProcess(args, { ...process.env, ...stack.env, DAS_RESOURCE_ID: CLUSTER, ...env }, options);
}

/** Runs `body` with the SDK's Lambda endpoint (read from the process environment) set to `endpoint`. */
async function withLambdaEndpoint<T>(endpoint: string, body: () => Promise<T>): Promise<T> {
  process.env.AWS_ENDPOINT_URL_LAMBDA = endpoint;
  try {
    return await body();
  } finally {
    delete process.env.AWS_ENDPOINT_URL_LAMBDA;
  }
}

/** The counts of the last progress line and of the summary line a reprocess run printed. */
function progressAndSummary(stderr: string): { progress: string | undefined; summary: string | undefined } {
  const progress = [...stderr.matchAll(/^reprocess \d+\/\d+ objects: (.*) \(/gm)].at(-1)?.[1];
  const summary = /^\d+ objects: (.*)$/m.exec(stderr)?.[1];
  return { progress, summary };
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
    expect(first.stderr).toContain("4 objects: 4 sent, 0 up to date, 0 failed");
    const outputs = await listKeys(stack, BUCKET, "decrypted/");
    expect(outputs).toEqual(
      written.filter(({ key }) => /\/25\/(10|11)\//.test(key)).map(({ key }) => `decrypted/${key}.gz`),
    );
    for (const { key, records } of written.filter(({ key }) => /\/25\/(10|11)\//.test(key))) {
      expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(expectedEventLines(records));
    }
    const again = await cli(["reprocess", `s3://${BUCKET}/raw/`, ...range, "--local"]);
    expect(again.stderr).toContain("4 objects: 0 sent, 4 up to date, 0 failed");
    const forced = await cli(["reprocess", `s3://${BUCKET}/raw/`, ...range, "--local", "--force"]);
    expect(forced.stderr).toContain("4 objects: 4 sent, 0 up to date, 0 failed");
    for (const run of [first, again, forced]) expect(run.stdout).toBe("");
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
    expect(run.stderr).toContain("2 objects: 1 sent, 1 up to date, 0 failed");
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
        return [];
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
    const lambda = await startFakeService(lambdaAccepted);
    try {
      // The SDK reads its endpoint from the process environment, like in production.
      const run = await withLambdaEndpoint(lambda.endpoint, () =>
        cli([
          "reprocess",
          `s3://${BUCKET}/raw/`,
          "--function",
          "das-decrypt-prod-decrypt",
          "--force",
          "--batch-size",
          "3",
          "--rate",
          "50",
        ]),
      );
      expect(run.code).toBe(0);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain("8 objects: 8 sent, 0 up to date, 0 failed");
      expect(run.stderr).not.toMatch(/^failed/m);
    } finally {
      await lambda.stop();
    }
    const seen = lambda.received;
    expect(seen.map((s) => s.path)).toEqual(
      Array(3).fill("/2015-03-31/functions/das-decrypt-prod-decrypt/invocations"),
    );
    expect(seen.every((s) => s.headers["x-amz-invocation-type"] === "Event")).toBe(true);
    const keys = seen.flatMap((s) =>
      (JSON.parse(s.body) as { Records: { s3: { object: { key: string } } }[] }).Records.map((r) =>
        decodeURIComponent(r.s3.object.key.replace(/\+/g, " ")),
      ),
    );
    expect(keys.sort()).toEqual(written.map(({ key }) => key).sort());
  });

  test("--dry-run prints only the keys on stdout, the counts on stderr; --manifest writes a Batch Operations manifest and prints the create-job command", async () => {
    const dry = await cli([
      "reprocess",
      `s3://${BUCKET}/raw/2026/11/25/12/`,
      "--dry-run",
      "--output-prefix",
      "fresh/",
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(`s3://${BUCKET}/${written[6]?.key}\ns3://${BUCKET}/${written[7]?.key}\n`);
    expect(dry.stderr).toContain("2 objects: 2 to send, 0 up to date, 0 failed");
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
    expect(manifest.stdout).toMatch(/^aws s3control create-job/);
    expect(manifest.stdout).toContain('"InvocationSchemaVersion":"2.0"');
    expect(manifest.stdout).toContain(`arn:aws:s3:::${BUCKET}/batch/manifest.csv`);
    expect(manifest.stderr).toContain(`manifest of 8 objects written to s3://${BUCKET}/batch/manifest.csv`);
    expect(manifest.stderr).toContain("8 objects: 8 to send, 0 up to date, 0 failed");
  });

  test("with one object up to date, one sent and one failing in the same batch, the progress line and the summary give the same counts, and the failure is printed once", async () => {
    const object = (seed: number) =>
      buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        engine: "aurora-postgresql",
        resourceId: CLUSTER,
        records: 2,
        seed,
      });
    const [fresh, sent, failing] = [
      "mix/a/2026/11/25/10/one",
      "mix/a/2026/11/25/10/two",
      "mix/b/2026/11/25/10/three",
    ];
    await putObject(stack, BUCKET, fresh as string, (await object(1)).body);
    expect((await cli(["reprocess", `s3://${BUCKET}/mix/`, "--local"])).code).toBe(0);
    await putObject(stack, BUCKET, sent as string, (await object(2)).body);
    await putObject(stack, BUCKET, failing as string, (await object(3)).body);
    // mix/b/ is said to come from another cluster: KMS refuses its data keys.
    const map = JSON.stringify({ "mix/b/": "cluster-AAAAAAAAAAAAAAAAAAAAAAAAAA" });
    const run = await cli([
      "reprocess",
      `s3://${BUCKET}/mix/`,
      "--local",
      "--batch-size",
      "2",
      "--resource-id-map",
      map,
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(progressAndSummary(run.stderr)).toEqual({
      progress: "1 sent, 1 up to date, 1 failed",
      summary: "1 sent, 1 up to date, 1 failed",
    });
    expect(run.stderr).toContain(`failed (1 object): DAS_RESOURCE_ID_MAP["mix/b/"] looks wrong:`);
    expect(run.stderr.split(failing as string)).toHaveLength(2);
    expect(run.stderr).not.toContain(sent as string);
    expect(await listKeys(stack, BUCKET, "decrypted/mix/")).toEqual([
      `decrypted/${fresh}.gz`,
      `decrypted/${sent}.gz`,
    ]);
  });

  describe("--from/--to matching no hour folder", () => {
    beforeAll(async () => {
      for (const key of ["layout/stream-a/2026/11/25/10/das-1", "flat/das-1.bin"]) {
        await putObject(stack, BUCKET, key, Buffer.from("{}"));
      }
    });
    test.each([
      [
        "objects in hour folders one level down name that folder",
        "layout/",
        "2026-11-25T10",
        /no hour folders directly under s3:\/\/das-cli\/layout\/: its objects are laid out as layout\/stream-a\/YYYY\/MM\/dd\/HH\/ \(hours 2026-11-25T10 to 2026-11-25T10 seen\)\n {2}give the prefix down to the hour folders: s3:\/\/das-cli\/layout\/stream-a\/\n/,
      ],
      [
        "other hours under the right prefix are named",
        "layout/stream-a/",
        "2026-11-26T10",
        /no objects in those hours under s3:\/\/das-cli\/layout\/stream-a\/, laid out as layout\/stream-a\/YYYY\/MM\/dd\/HH\/ \(hours 2026-11-25T10 to 2026-11-25T10 seen\)/,
      ],
      [
        "objects outside hour folders are said to be",
        "flat/",
        "2026-11-25T10",
        /no hour folders under s3:\/\/das-cli\/flat\/: its objects are not in YYYY\/MM\/dd\/HH\/ folders \(e\.g\. flat\/das-1\.bin\)/,
      ],
    ])("%s, and the run exits 2", async (_, prefix, from, message) => {
      const to = from.replace(/T10$/, "T11");
      const run = await cli(["reprocess", `s3://${BUCKET}/${prefix}`, "--from", from, "--to", to, "--local"]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(new RegExp(`^das-decrypt: ${message.source}`));
    });

    test("an empty prefix is nothing to do: exit 0", async () => {
      const run = await cli([
        "reprocess",
        `s3://${BUCKET}/nothing-here/`,
        "--from",
        "2026-11-25T10",
        "--to",
        "2026-11-25T11",
        "--local",
      ]);
      expect(run).toEqual({
        code: 0,
        stdout: "",
        stderr: `no objects to reprocess under s3://${BUCKET}/nothing-here/\n`,
      });
    });
  });

  test("Ctrl-C on a terminal: the bar is ended and the cursor shown before the stopping line, what is in flight finishes, and the resume point is printed", async () => {
    let arrived!: () => void;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const lambda = await startFakeService(async (request: Received, response) => {
      arrived();
      await released;
      lambdaAccepted(request, response);
    });
    const interrupt = new AbortController();
    try {
      const run = await withLambdaEndpoint(lambda.endpoint, async () => {
        const running = cli(
          ["reprocess", `s3://${BUCKET}/raw/`, "--function", "f", "--force", "--concurrency", "1"],
          {},
          { signal: interrupt.signal, tty: true },
        );
        await Promise.race([first, running]);
        interrupt.abort();
        release();
        return running;
      });
      expect(run.code).toBe(130);
      expect(run.stdout).toBe("");
      const { stderr } = run;
      const stopping = stderr.indexOf("das-decrypt: stopping after the work in flight");
      expect(stopping).toBeGreaterThan(0);
      const before = stderr.slice(0, stopping);
      expect(before).toContain("\x1b[?25l");
      expect(before.lastIndexOf("\x1b[?25h")).toBeGreaterThan(before.lastIndexOf("\x1b[?25l"));
      expect(before.endsWith("\n")).toBe(true);
      const after = stderr.slice(stopping);
      expect(after).not.toContain("\x1b");
      expect(after).toContain("8 objects: 1 sent, 0 up to date, 0 failed, 7 not sent\n");
      expect(after).toContain(`resume with: --start-after '${written[0]?.key}'\n`);
      expect(lambda.received).toHaveLength(1);
    } finally {
      release();
      await lambda.stop();
    }
  });

  test.each([
    [["reprocess", "s3://b/raw/"], /^das-decrypt: choose where events go/, true],
    [
      ["reprocess", "s3://b/raw/", "--local", "--from", "yesterday", "--to", "2026-11-25T00"],
      /^das-decrypt: --from must be an hour/,
      true,
    ],
    [
      ["reprocess", "bucket/raw/", "--local"],
      /^das-decrypt: "bucket\/raw\/" is not an s3:\/\/bucket\/key address/,
      true,
    ],
    [
      ["reprocess", "s3://b/raw/", "--local", "--concurrency", "0"],
      /^das-decrypt: option '--concurrency <n>' argument '0' is invalid. --concurrency must be a whole number ≥ 1/,
      true,
    ],
    [
      ["reprocess", "s3://b/raw/", "--local", "--resource-id", "nope"],
      /^das-decrypt: DAS_RESOURCE_ID must be/,
      false,
    ],
  ])(
    "bad usage %j exits 2 with the error, and the usage line for a bad argument, not the whole help",
    async (args, message, usage) => {
      const run = await cli(args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
      const lines = run.stderr.trimEnd().split("\n");
      expect(lines[0]).toMatch(message);
      expect(lines.slice(1)).toEqual(
        usage
          ? [
              "Usage: das-decrypt reprocess [options] <s3-prefix>",
              "Run 'das-decrypt reprocess --help' for the options.",
            ]
          : [],
      );
    },
  );
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

  describe("something that is not a DAS object", () => {
    const decrypted = async () => {
      const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        engine: "aurora-postgresql",
        resourceId: CLUSTER,
        records: 5,
      });
      const lines = expectedEventLines(fixture.records).map((event) => `${JSON.stringify(event)}\n`);
      return gzipSync(lines.join(""));
    };
    test.each([
      [
        "a README",
        async () =>
          Buffer.from('# Notes\n\nRun it with `{"a": 1}` and {braces}.\n\n```json\n{"key": "value"}\n```\n'),
        /^not a DAS object: no DAS record in it, only \d+ pieces that are not DAS records \(.*garbage: \d+.*\)$/,
      ],
      [
        "random bytes",
        async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)),
        /^not a DAS object: no DAS record in it, only \d+ pieces that are not DAS records \(.*garbage: \d+.*\)$/,
      ],
      [
        "an already decrypted .gz",
        decrypted,
        /^not a DAS object: 5 JSON lines without the key and databaseActivityEvents of a DAS record \(already decrypted output\?\)$/,
      ],
    ])(
      "%s: one line on stderr says what was found, nothing on stdout, exit 1",
      async (what, bytes, verdict) => {
        const file = join(scratch, `not-das-${what.replace(/\W+/g, "-")}`);
        await writeFile(file, await bytes());
        const run = await cli(["cat", file]);
        expect(run.code).toBe(1);
        expect(run.stdout).toBe("");
        const lines = run.stderr.trimEnd().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]?.startsWith(`das-decrypt: ${file}: `)).toBe(true);
        expect(lines[0]?.slice(`das-decrypt: ${file}: `.length)).toMatch(verdict);
      },
    );
  });

  test("a directory, or a path that is not there, is a usage error naming the path: exit 2", async () => {
    const folder = join(scratch, "a-folder");
    await mkdir(folder, { recursive: true });
    const directory = await cli(["cat", folder]);
    expect(directory).toEqual({
      code: 2,
      stdout: "",
      stderr: `das-decrypt: ${folder} is a directory: cat decrypts one object; give one of its files, or upload them and use reprocess\n`,
    });
    const missing = await cli(["cat", join(scratch, "not-there.bin")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^das-decrypt: \S+not-there\.bin: no such file/);
  });

  test("an error about a local file names the file by its path", async () => {
    const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 2,
    });
    const file = join(scratch, "other-cluster.bin");
    await writeFile(file, fixture.body);
    const run = await cli(["cat", file, "--resource-id", "cluster-AAAAAAAAAAAAAAAAAAAAAAAAAA"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(new RegExp(`^das-decrypt: ${file}: DAS_RESOURCE_ID looks wrong: `));
    expect(run.stderr).not.toContain("local-file");
  });

  test("a missing S3 object: the SDK's message and what to do, exit 1", async () => {
    const run = await cli(["cat", `s3://${BUCKET}/cat/nothing/here`]);
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr:
        `das-decrypt: s3://${BUCKET}/cat/nothing/here: s3:GetObject failed: NoSuchKey: The specified key does not exist.\n` +
        `  No object has that key: see what is there with \`aws s3 ls s3://${BUCKET}/cat/nothing/\`.\n`,
    });
  });
});

test("--version prints the package's version on stdout", async () => {
  const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
  expect(await cli(["--version"])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
});
