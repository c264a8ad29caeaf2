/**
 * The deploy's side of a stage file: osls's own Serverless instance loads the preflight plugin as
 * `serverless deploy --stage <stage>` does, and osls's own `param` source then resolves ${param:…}
 * from params/<stage>.json (after --param, before params.default), or the command stops with one
 * line per problem. No variables are resolved here: test/deploy/setup-params-file.test.ts packages
 * the real serverless.yml with a file `setup` wrote.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ROOT } from "./cli-harness.ts";

const require = createRequire(import.meta.url);

interface Serverless {
  init(): Promise<void>;
  configurationInput: { params: Record<string, Record<string, unknown>> };
  processedInput: { options: Record<string, unknown> };
}
const Serverless = require("osls/lib/serverless") as new (config: Record<string, unknown>) => Serverless;
const paramSource = require("osls/lib/configuration/variables/sources/instance-dependent/param") as (
  serverless: Serverless,
) => {
  resolve(input: {
    address: string;
    options: Record<string, unknown>;
    resolveConfigurationProperty: (path: string[]) => Promise<unknown>;
  }): Promise<{ value: unknown }>;
};

const RESOURCE_ID = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/** params.default of a service: every parameter the preflight checks, valid once a file adds the ids. */
const DEFAULTS = {
  bucketName: "",
  existingBucket: "false",
  rawPrefix: "raw/",
  dasResourceId: "",
  dasKmsKeyArn: "",
  outputPrefix: "decrypted/",
  quarantinePrefix: "quarantine/",
  outputFormat: "events",
  outputCompression: "gzip",
  includeHeartbeats: "false",
  objectEvents: "true",
  streamSilenceMinutes: 30,
  memorySize: 1769,
};

let serviceDir: string;

beforeAll(async () => {
  serviceDir = await mkdtemp(join(tmpdir(), "das-stage-file-"));
  await mkdir(join(serviceDir, "params"));
  // osls loads local plugins from inside the service's folder only.
  await symlink(join(ROOT, "deploy"), join(serviceDir, "deploy"));
});
afterAll(() => rm(serviceDir, { recursive: true, force: true }));

/** Writes params/<stage>.json in the service's folder. */
function writeStageFile(stage: string, content: unknown): Promise<void> {
  return writeFile(join(serviceDir, "params", `${stage}.json`), JSON.stringify(content));
}

/** Starts `serverless package --stage <stage>` up to the end of the plugins' initialization. */
async function startPackage(
  stage: string,
  options: Record<string, unknown> = {},
  params: Record<string, Record<string, unknown>> = {},
): Promise<Serverless> {
  const serverless = new Serverless({
    configuration: {
      service: "das-decrypt",
      provider: { name: "aws", stage, region: "eu-west-1" },
      plugins: ["./deploy/preflight-plugin.cjs"],
      params: { default: DEFAULTS, ...params },
    },
    serviceDir,
    configurationFilename: "serverless.yml",
    commands: ["package"],
    options: { stage, ...options },
  });
  await serverless.init();
  return serverless;
}

/** What ${param:<name>} resolves to for the command, through osls's own source. */
async function param(serverless: Serverless, name: string): Promise<unknown> {
  const source = paramSource(serverless);
  const options = serverless.processedInput.options;
  return (await source.resolve({ address: name, options, resolveConfigurationProperty: async () => null }))
    .value;
}

test("a stage's parameters resolve from its file: after --param, before params.default", async () => {
  await writeStageFile("filed", {
    region: "eu-west-1",
    params: { bucketName: "corp-das", dasResourceId: RESOURCE_ID, dasKmsKeyArn: KEY_ARN, memorySize: 3538 },
  });
  const serverless = await startPackage("filed", { param: ["bucketName=from-the-command-line"] });
  expect(await param(serverless, "dasResourceId")).toBe(RESOURCE_ID);
  expect(await param(serverless, "memorySize")).toBe(3538);
  expect(await param(serverless, "bucketName")).toBe("from-the-command-line");
  expect(await param(serverless, "rawPrefix")).toBe("raw/");
});

test("another stage's file is not read", async () => {
  await writeStageFile("filed", { params: { dasResourceId: RESOURCE_ID, dasKmsKeyArn: KEY_ARN } });
  await expect(startPackage("other", {}, { other: { bucketName: "b" } })).rejects.toThrow(
    /^Parameter dasResourceId is required/,
  );
});

test("a parameter set under params.<stage> to another value: one line, keep one", async () => {
  await writeStageFile("both", {
    params: { bucketName: "corp-das", dasResourceId: RESOURCE_ID, dasKmsKeyArn: KEY_ARN },
  });
  const same = await startPackage("both", {}, { both: { dasResourceId: RESOURCE_ID } });
  expect(await param(same, "bucketName")).toBe("corp-das");
  await expect(startPackage("both", {}, { both: { bucketName: "other-bucket" } })).rejects.toThrow(
    'Parameter bucketName is "corp-das" in params/both.json and "other-bucket" under params.both in serverless.yml: keep one',
  );
});

test("--region other than the file's: one line", async () => {
  await writeStageFile("region", {
    region: "eu-west-1",
    params: { bucketName: "corp-das", dasResourceId: RESOURCE_ID, dasKmsKeyArn: KEY_ARN },
  });
  expect(await param(await startPackage("region", { region: "eu-west-1" }), "bucketName")).toBe("corp-das");
  await expect(startPackage("region", { region: "us-west-2" })).rejects.toThrow(
    "params/region.json is for eu-west-1, the database's region, not --region us-west-2: leave out --region, or run das-decrypt setup again",
  );
});

test("a name params.default does not have and a key that does not belong: every line at once", async () => {
  await writeStageFile("typo", { regoin: "eu-west-1", params: { dasResourceID: RESOURCE_ID } });
  const failure = await startPackage("typo").then(
    () => new Error("started"),
    (error: Error) => error,
  );
  expect(failure.message.split("\n")).toEqual([
    'params/typo.json has "regoin": only "region", "database", "params" belong there',
    'params/typo.json sets "dasResourceID", which is not a parameter of the stack',
  ]);
});
