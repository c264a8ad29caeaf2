// Runs the `serverless` command of the project (osls) the way a user does, on a new account's
// mistakes: bad parameters, no credentials, credentials AWS refuses. Each must come out once, in
// one line, without stack frames, and stop the command with exit code 1. Nothing reaches AWS: the
// SDK's endpoint is a closed port or a stand-in STS on loopback, and no credentials are inherited.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SERVERLESS = join(ROOT, "node_modules", ".bin", "serverless");
const VALID = [
  "--param=dasResourceId=cluster-P74MFUJBI3PYA2N5L22YVVX3VY",
  "--param=dasKmsKeyArn=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
];

let scratch: string;
let service: string;
let sts: Server;
const stsRequests: string[] = [];
/** What the stand-in STS answers: a refusal of the keys, or whose they are (account 111122223333). */
let stsAnswer: "refuse" | "identify" = "refuse";

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "das-deploy-errors-"));
  // The service in a folder of its own, so that osls and serverless-esbuild write their work
  // folders (.serverless, .esbuild) there, not into the checkout other tests package in. osls
  // looks for a serverless.yml that is a file (not a link); the rest is linked.
  service = join(scratch, "service");
  await mkdir(service);
  await writeFile(join(scratch, "empty"), "");
  await copyFile(join(ROOT, "serverless.yml"), join(service, "serverless.yml"));
  const linked = ["deploy", "resources", "functions", "src", "package.json", "tsconfig.json", "node_modules"];
  await Promise.all(linked.map((name) => symlink(join(ROOT, name), join(service, name))));
  // What STS answers to keys it does not know (HTTP 403, the Query protocol's error document), or
  // to keys it knows.
  sts = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on("end", () => {
      stsRequests.push(new URLSearchParams(body).get("Action") ?? "");
      if (stsAnswer === "identify") {
        response.writeHead(200, { "content-type": "text/xml" });
        response.end(
          '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
            "<Arn>arn:aws:iam::111122223333:user/ci</Arn><UserId>AIDAJQABLZS4A3QDU576Q</UserId>" +
            "<Account>111122223333</Account></GetCallerIdentityResult>" +
            "<ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>" +
            "</GetCallerIdentityResponse>",
        );
        return;
      }
      response.writeHead(403, { "content-type": "text/xml" });
      response.end(
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>' +
          "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>" +
          "</Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>",
      );
    });
  });
  await new Promise<void>((resolve) => sts.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await new Promise((resolve) => sts?.close(resolve));
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

type Run = { code: number | null; output: string };

/**
 * Runs `serverless <args>` in the linked service with no credentials and no AWS configuration of
 * this machine (`aws` adds variables), bounded to a minute, and returns its exit code and output.
 */
function serverless(args: string[], aws: Record<string, string> = {}): Promise<Run> {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: scratch,
    AWS_CONFIG_FILE: join(scratch, "empty"),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, "empty"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    NO_COLOR: "1",
    ...aws,
  };
  return new Promise((resolve) => {
    execFile(SERVERLESS, args, { cwd: service, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

const count = (text: string, part: string) => text.split(part).length - 1;
const STACK_FRAME = /^\s+at /m;

test("every bad parameter is named once, one line each, in one run that needs no credentials and exits 1", async () => {
  const out = join(scratch, "bad-params");
  const run = await serverless([
    "package",
    "--stage",
    "dev",
    "--package",
    out,
    "--param=dasResourceId=my-cluster",
    "--param=dasKmsKeyArn=alias/aws/rds",
    "--param=outputFormat=csv",
    "--param=rawPrefix=raw",
    "--param=reservedConcurrency=0",
    "--param=plaintextRetentionDays=0",
    "--param=rawObjectLockDays=2555",
    "--param=streamSilenceMinutes=0",
    "--param=alarmTopicArn=ops-alerts",
    "--param=securityLakeBucket=s3://aws-security-data-lake-us-east-1-4f2a9c7e1b3d/ext/das-decrypt/",
    "--param=securityLakeExternalId=das-decrypt@111122223333:audit",
  ]);
  expect(run.code).toBe(1);
  const problems = [
    'Parameter dasResourceId must be a cluster-… or db-… resource id, got "my-cluster"',
    'Parameter dasKmsKeyArn must be the ARN of the KMS key the DAS stream uses (arn:aws:kms:…:key/…), got "alias/aws/rds"',
    'Parameter outputFormat must be "events" or "records", got "csv"',
    'Parameter rawPrefix must be a non-empty key prefix ending in "/", got "raw"',
    'Parameter reservedConcurrency must be a whole number from 1, or empty for none reserved, got "0"',
    'Parameter plaintextRetentionDays must be a whole number of days from 1, or empty for 365, got "0"',
    'Parameter rawObjectLockDays needs rawObjectLockMode ("GOVERNANCE" or "COMPLIANCE")',
    'Parameter streamSilenceMinutes must be a whole number of minutes from 1 to 1440 (a CloudWatch alarm looks back a day at most), got "0"',
    'Parameter alarmTopicArn must be the ARN of an SNS topic (arn:aws:sns:<region>:<account>:<name>), or empty for none, got "ops-alerts"',
    'Parameter securityLakeBucket must be the name of the Security Lake bucket (an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, not an IP address), or empty for no Security Lake output, got "s3://aws-security-data-lake-us-east-1-4f2a9c7e1b3d/ext/das-decrypt/"',
    "Parameter securityLakeExternalId needs securityLakeRoleArn: it is sent only when the function assumes the provider role",
  ];
  expect(run.output.split("\n").filter((line) => line.startsWith("Parameter "))).toEqual(problems);
  for (const problem of problems) expect(count(run.output, problem)).toBe(1);
  expect(run.output).not.toMatch(STACK_FRAME);
  expect(run.output).not.toContain("Cannot resolve");
  expect(run.output).not.toMatch(/credentials/i);
  expect(existsSync(out)).toBe(false);
}, 90_000);

test("no AWS credentials: one line naming what to do, once, after the parameters pass, and exit 1", async () => {
  const run = await serverless(["deploy", "--stage", "x", ...VALID]);
  expect(run.code).toBe(1);
  expect(count(run.output, "AWS credentials not found")).toBe(1);
  expect(run.output).toMatch(/^AWS credentials not found \(.*\): set AWS_PROFILE, or run "aws configure"/m);
  expect(run.output).not.toMatch(STACK_FRAME);
  expect(run.output).not.toContain("Cannot resolve");
  expect(run.output).not.toContain("Parameter ");
}, 90_000);

test("credentials STS refuses: one line with AWS's reason, once, and exit 1", async () => {
  stsRequests.length = 0;
  const run = await serverless(["deploy", "--stage", "x", ...VALID], {
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_ENDPOINT_URL: `http://127.0.0.1:${(sts.address() as AddressInfo).port}`,
  });
  expect(run.code).toBe(1);
  expect(stsRequests).toEqual(["GetCallerIdentity"]);
  const line =
    "AWS refused the credentials (InvalidClientTokenId: The security token included in the request is invalid.)";
  expect(count(run.output, line)).toBe(1);
  expect(count(run.output, "The security token included in the request is invalid")).toBe(1);
  expect(run.output).not.toMatch(STACK_FRAME);
  expect(run.output).not.toContain("Cannot resolve");
}, 90_000);

test("with Object Lock and no bucketName, a bucket name too long for its -output twin is one line once the account is known, and exit 1", async () => {
  stsRequests.length = 0;
  stsAnswer = "identify";
  const stage = "s".repeat(22);
  try {
    const run = await serverless(
      [
        "package",
        "--stage",
        stage,
        "--package",
        join(scratch, "long-stage"),
        ...VALID,
        "--param=rawObjectLockMode=GOVERNANCE",
        "--param=rawObjectLockDays=30",
      ],
      {
        AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_ENDPOINT_URL: `http://127.0.0.1:${(sts.address() as AddressInfo).port}`,
      },
    );
    expect(run.code).toBe(1);
    expect(stsRequests).toContain("GetCallerIdentity");
    const line = `Parameter outputBucket is required with rawObjectLockMode when the bucket name "das-decrypt-${stage}-111122223333-us-east-1" is longer than 56 characters (the stack would name its output bucket "<bucket name>-output")`;
    expect(run.output.split("\n").filter((text) => text.startsWith("Parameter "))).toEqual([line]);
    expect(count(run.output, line)).toBe(1);
    expect(run.output).not.toMatch(STACK_FRAME);
    expect(run.output).not.toContain("Cannot resolve");
    expect(existsSync(join(scratch, "long-stage"))).toBe(false);
  } finally {
    stsAnswer = "refuse";
  }
}, 90_000);

test("a reservedConcurrency given reserves that many executions in the packaged template, with no credentials", async () => {
  const out = join(scratch, "reserved");
  const run = await serverless([
    "package",
    "--stage",
    "ci",
    "--package",
    out,
    "--param=reservedConcurrency=7",
  ]);
  expect(run.output).not.toMatch(STACK_FRAME);
  expect(run.code).toBe(0);
  const template = JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"));
  expect(template.Resources.DecryptLambdaFunction.Properties.ReservedConcurrentExecutions).toBe(7);
}, 120_000);
