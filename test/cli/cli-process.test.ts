/**
 * The command as its own process: exit codes, what goes to stdout and what to stderr, a reader that
 * stops reading, Ctrl-C, and the SDK's own errors (region, credentials, permissions, endpoints)
 * read from the environment the way a user's shell gives them.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildFirehoseObject, expectedEventLines, type InnerRecord } from "../../src/local/fixtures.ts";
import { type LocalStack, startLocalStack } from "../../src/local/stack.ts";
import { putObject } from "../support/harness.ts";
import {
  type FakeService,
  kmsAccessDenied,
  lambdaAccepted,
  lambdaAccessDenied,
  type Ran,
  ROOT,
  runProcess,
  spawnCli,
  startFakeService,
} from "./cli-harness.ts";

const BUCKET = "das-cli-process";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const KEYS = [1, 2, 3, 4].map((n) => `raw/2026/11/25/10/das-stream-1-2026-11-25-10-0${n}-00-uuid${n}`);
/** Long enough to be scrubbed, and easy to find if it leaks. */
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

let stack: LocalStack;
let scratch: string;
/** A local Firehose object whose decrypted lines are far more than a pipe holds (64 KiB). */
let bigFile: string;
let bigRecords: InnerRecord[];

/** The environment of a shell pointed at the local stack, with our secret key. */
function shellEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: scratch,
    ...stack.env,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_CONFIG_FILE: join(scratch, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, "no-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    DAS_RESOURCE_ID: CLUSTER,
    ...extra,
  };
}

/** Runs the command; whatever it printed must not hold the secret key. */
async function run(args: string[], env: Record<string, string | undefined>): Promise<Ran> {
  const ran = await runProcess(args, env);
  expect(`${ran.stdout}${ran.stderr}`).not.toContain(SECRET);
  return ran;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  scratch = await mkdtemp(join(tmpdir(), "das-cli-process-"));
  for (const [n, key] of KEYS.entries()) {
    const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 2,
      seed: n,
    });
    await putObject(stack, BUCKET, key, fixture.body);
  }
  const big = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 400,
    seed: 7,
  });
  bigFile = join(scratch, "big.bin");
  bigRecords = big.records;
  await writeFile(bigFile, big.body);
});
afterAll(async () => {
  await stack.stop();
  await rm(scratch, { recursive: true, force: true });
});

test("cat … | head: a reader that closes after the first line ends the command quietly, exit 0", async () => {
  const child = spawnCli(["cat", bigFile], shellEnv(), { readStdout: false });
  const firstLine = await new Promise<string>((resolve) => {
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf("\n");
      if (end < 0) return;
      resolve(text.slice(0, end));
      (child.stdout as Readable).destroy();
    });
  });
  const ran = await child.ended();
  expect(JSON.parse(firstLine)).toEqual(expectedEventLines(bigRecords)[0]);
  expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: "" });
});

describe("an AWS error shows the SDK's message and what to do, on stderr, nothing on stdout", () => {
  let refused: string;
  beforeAll(async () => {
    // A port nothing listens on: a server's, once it is stopped.
    const gone = await startFakeService(lambdaAccepted);
    refused = gone.endpoint;
    await gone.stop();
  });

  test("no region: one line naming AWS_REGION, exit 2, before any call", async () => {
    const ran = await run(
      ["cat", bigFile],
      shellEnv({ AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined }),
    );
    expect(ran).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "das-decrypt: AWS_REGION is not set and no profile gives a region: export AWS_REGION=<the region of the bucket and the stream>, or set one with `aws configure`\n",
    });
  });

  test("no credentials: the provider chain's message and how to give credentials, exit 1", async () => {
    const ran = await run(
      ["cat", bigFile],
      shellEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }),
    );
    expect(ran).toEqual({
      code: 1,
      stdout: "",
      stderr:
        `das-decrypt: ${bigFile}, record 0, byte 0: kms:Decrypt failed: CredentialsProviderError: Could not load credentials from any providers\n` +
        "  No AWS credentials were found: set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.\n",
    });
  });

  test("nothing listening at the endpoint: the socket's error and what to check, exit 1", async () => {
    const ran = await run(["cat", bigFile], shellEnv({ AWS_ENDPOINT_URL_KMS: refused }));
    const port = new URL(refused).port;
    expect(ran).toEqual({
      code: 1,
      stdout: "",
      stderr:
        `das-decrypt: ${bigFile}, record 0, byte 0: kms:Decrypt failed: Error: connect ECONNREFUSED 127.0.0.1:${port}\n` +
        "  Nothing answers at that address: check the AWS_ENDPOINT_URL_* variables (a local stack must be running).\n",
    });
  });

  describe("access denied, the same in cat, reprocess --local and reprocess --function", () => {
    const denial = (action: string, resource: string) =>
      `User: arn:aws:iam::111122223333:user/ops is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
    const kmsDenial = denial("kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/0b5a0b5a");
    const lambdaDenial = denial("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:111122223333:function:f");
    let kms: FakeService;
    let lambda: FakeService;
    beforeAll(async () => {
      // A service that echoes the caller's secret back must not get it printed.
      kms = await startFakeService(kmsAccessDenied(`${kmsDenial} (${SECRET})`));
      lambda = await startFakeService(lambdaAccessDenied(lambdaDenial));
    });
    afterAll(async () => {
      await Promise.all([kms.stop(), lambda.stop()]);
    });

    test("cat", async () => {
      const ran = await run(["cat", bigFile], shellEnv({ AWS_ENDPOINT_URL_KMS: kms.endpoint }));
      expect(ran).toEqual({
        code: 1,
        stdout: "",
        stderr:
          `das-decrypt: ${bigFile}, record 0, byte 0: kms:Decrypt failed: AccessDeniedException: ${kmsDenial} (****)\n` +
          "  The credentials in use may not call kms:Decrypt: allow it in their IAM policy and the KMS key's key policy, or run with credentials that may (AWS_PROFILE).\n",
      });
    });

    test("reprocess --local: the error and the hint once, each object once", async () => {
      const ran = await run(
        ["reprocess", `s3://${BUCKET}/raw/`, "--local", "--force"],
        shellEnv({ AWS_ENDPOINT_URL_KMS: kms.endpoint }),
      );
      expect(ran.code).toBe(1);
      expect(ran.stdout).toBe("");
      expect(ran.stderr).toContain(
        `4 objects: 0 sent, 0 up to date, 4 failed\n` +
          `failed (4 objects): kms:Decrypt failed: AccessDeniedException: ${kmsDenial} (****)\n` +
          "  The credentials in use may not call kms:Decrypt: allow it in their IAM policy and the KMS key's key policy, or run with credentials that may (AWS_PROFILE).\n" +
          KEYS.map((key) => `  s3://${BUCKET}/${key}\n`).join(""),
      );
      expect(ran.stderr.split("AccessDeniedException")).toHaveLength(2);
    });

    test("reprocess --function", async () => {
      const ran = await run(
        ["reprocess", `s3://${BUCKET}/raw/`, "--function", "f", "--force", "--batch-size", "2"],
        shellEnv({ AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint }),
      );
      expect(ran.code).toBe(1);
      expect(ran.stdout).toBe("");
      expect(ran.stderr).toContain(
        `4 objects: 0 sent, 0 up to date, 4 failed\n` +
          `failed (4 objects): lambda:InvokeFunction failed: AccessDeniedException: ${lambdaDenial}\n` +
          "  The credentials in use may not call lambda:InvokeFunction: allow it in their IAM policy, or run with credentials that may (AWS_PROFILE).\n" +
          KEYS.map((key) => `  s3://${BUCKET}/${key}\n`).join(""),
      );
    });
  });
});

describe("Ctrl-C", () => {
  test("during reprocess: what is in flight finishes, the counts and the resume point go to stderr, exit 130", async () => {
    const arrived = deferred();
    const release = deferred();
    const lambda = await startFakeService(async (request, response) => {
      arrived.resolve();
      await release.promise;
      lambdaAccepted(request, response);
    });
    try {
      const child = spawnCli(
        ["reprocess", `s3://${BUCKET}/raw/`, "--function", "f", "--force", "--concurrency", "1"],
        shellEnv({ AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint }),
      );
      await Promise.race([arrived.promise, child.ended()]);
      child.kill("SIGINT");
      await child.stderrMatches(/stopping after the work in flight/);
      release.resolve();
      const ran = await child.ended();
      expect(ran.code).toBe(130);
      expect(ran.stdout).toBe("");
      expect(ran.stderr).toContain(
        "das-decrypt: stopping after the work in flight (Ctrl-C again to quit now)\n" +
          "4 objects: 1 sent, 0 up to date, 0 failed, 3 not sent\n" +
          `resume with: --start-after '${KEYS[0]}'\n`,
      );
      expect(lambda.received).toHaveLength(1);
    } finally {
      release.resolve();
      await lambda.stop();
    }
  });

  test("twice: quits at once, exit 130", async () => {
    const arrived = deferred();
    const lambda = await startFakeService(() => {
      arrived.resolve();
      return new Promise(() => undefined);
    });
    try {
      const child = spawnCli(
        ["reprocess", `s3://${BUCKET}/raw/`, "--function", "f", "--force"],
        shellEnv({ AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint }),
      );
      await Promise.race([arrived.promise, child.ended()]);
      child.kill("SIGINT");
      await child.stderrMatches(/stopping after the work in flight/);
      child.kill("SIGINT");
      const ran = await child.ended();
      expect(ran.code).toBe(130);
      expect(ran.stdout).toBe("");
      expect(ran.stderr).not.toContain("resume with");
    } finally {
      await lambda.stop();
    }
  });

  test("during cat: stops at once, even with a KMS call in flight, exit 130", async () => {
    const arrived = deferred();
    const kms = await startFakeService(() => {
      arrived.resolve();
      return new Promise(() => undefined);
    });
    try {
      const child = spawnCli(["cat", bigFile], shellEnv({ AWS_ENDPOINT_URL_KMS: kms.endpoint }), {
        timeoutMs: 8_000,
      });
      await Promise.race([arrived.promise, child.ended()]);
      const sent = Date.now();
      child.kill("SIGINT");
      const ran = await child.ended();
      expect(Date.now() - sent).toBeLessThan(5_000);
      expect(ran).toEqual({ code: 130, stdout: "", stderr: "" });
    } finally {
      await kms.stop();
    }
  });
});

test("the built command runs with plain node: --version, and the usage line of a bad value", async () => {
  execFileSync("npm", ["run", "--silent", "build:cli"], { cwd: ROOT });
  const bin = join(ROOT, "dist", "das-decrypt.mjs");
  const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
  expect(execFileSync(process.execPath, [bin, "--version"], { encoding: "utf8" })).toBe(`${version}\n`);
  const help = execFileSync(process.execPath, [bin, "reprocess", "--help"], { encoding: "utf8" });
  expect(help).toContain("Usage: das-decrypt reprocess [options] <s3-prefix>");
  expect(help).toContain("--start-after <key>");
  let failed: { status: number; stdout: string; stderr: string } | undefined;
  try {
    execFileSync(process.execPath, [bin, "reprocess", "s3://b/raw/", "--rate", "fast"], {
      encoding: "utf8",
      stdio: "pipe",
    });
  } catch (error) {
    failed = error as typeof failed;
  }
  expect(failed).toMatchObject({
    status: 2,
    stdout: "",
    stderr:
      "das-decrypt: option '--rate <n>' argument 'fast' is invalid. --rate must be a whole number ≥ 1\n" +
      "Usage: das-decrypt reprocess [options] <s3-prefix>\n" +
      "Run 'das-decrypt reprocess --help' for the options.\n",
  });
});
