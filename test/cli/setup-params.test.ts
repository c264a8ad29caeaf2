/**
 * The parameters `setup` derives from what RDS says, and how it checks a stage file: with the
 * deploy's own checks (deploy/stack-config.cjs) and serverless.yml's defaults, read here by osls.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { expect, test } from "vitest";
import { parseStageFile } from "../../deploy/stack-config.cjs";
import { SetupError, type StreamDescription } from "../../src/cli/setup-database.ts";
import {
  checkStageParams,
  DEFAULT_PARAMS,
  formatStageFile,
  STAGE_PARAM_NAMES,
  streamParams,
} from "../../src/cli/setup-params.ts";
import { ROOT } from "./cli-harness.ts";

const require = createRequire(import.meta.url);
/** osls's own reader of serverless.yml, the one every `serverless` command starts with. */
const readConfiguration = require("osls/lib/configuration/read") as (
  path: string,
) => Promise<{ params: { default: Record<string, unknown> } }>;

const KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab";

function stream(partition: string, region: string, kmsKeyId: string): StreamDescription {
  const account = "111122223333";
  return {
    kind: "cluster",
    name: "audit",
    arn: `arn:${partition}:rds:${region}:${account}:cluster:audit`,
    arnParts: { partition, region, account, kind: "cluster", name: "audit" },
    engine: "aurora-postgresql",
    resourceId: "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    mode: "async",
    kmsKeyId,
    kinesisStreamName: "aws-rds-das-cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  };
}

test("a file's parameters are checked with serverless.yml's defaults, and may name every parameter it has", async () => {
  const { params } = await readConfiguration(join(ROOT, "serverless.yml"));
  const declared = Object.fromEntries(
    Object.entries(params.default).map(([name, value]) => [name, String(value ?? "")]),
  );
  expect([...STAGE_PARAM_NAMES].sort()).toEqual(Object.keys(declared).sort());
  expect(DEFAULT_PARAMS).toEqual(
    Object.fromEntries(Object.entries(declared).filter(([, value]) => value !== "")),
  );
});

test("ARNs are built in the database's partition, region and account", () => {
  expect(streamParams(stream("aws-cn", "cn-north-1", KEY_ID))).toEqual({
    dasResourceId: "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    dasKmsKeyArn: `arn:aws-cn:kms:cn-north-1:111122223333:key/${KEY_ID}`,
    dasKinesisStreamArn:
      "arn:aws-cn:kinesis:cn-north-1:111122223333:stream/aws-rds-das-cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  });
  const multiRegion = "mrk-1234abcd12ab34cd56ef1234567890ab";
  expect(streamParams(stream("aws-us-gov", "us-gov-west-1", multiRegion)).dasKmsKeyArn).toBe(
    `arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/${multiRegion}`,
  );
});

test("a key ARN is kept as RDS gives it, even of another account", () => {
  const arn = `arn:aws:kms:eu-west-1:444455556666:key/${KEY_ID}`;
  expect(streamParams(stream("aws", "eu-west-1", arn)).dasKmsKeyArn).toBe(arn);
});

test.each([["alias/das-key"], ["arn:aws:kms:eu-west-1:111122223333:alias/das-key"]])(
  "the alias %s is refused unless dasKmsKeyArn is given",
  (alias) => {
    expect(() => streamParams(stream("aws", "eu-west-1", alias))).toThrow(SetupError);
    expect(streamParams(stream("aws", "eu-west-1", alias), new Set(["dasKmsKeyArn"]))).not.toHaveProperty(
      "dasKmsKeyArn",
    );
  },
);

test("parameters a file leaves out are checked at their defaults: an output prefix under the default raw/ is refused", () => {
  const derived = streamParams(stream("aws", "eu-west-1", KEY_ID));
  expect(checkStageParams(derived)).toEqual([]);
  expect(checkStageParams({ ...derived, outputPrefix: "raw/decrypted/" })).toEqual([
    'Parameter outputPrefix must not overlap rawPrefix "raw/" in the same bucket',
  ]);
  expect(checkStageParams({})).toEqual([
    "Parameter dasResourceId is required: the DAS stream's resource id (cluster-… or db-…)",
    "Parameter dasKmsKeyArn is required: the ARN of the KMS key the DAS stream uses (arn:aws:kms:…:key/…)",
  ]);
});

test("the written file reads back as it was, parameters in the stack's order", () => {
  const params = {
    memorySize: 3538,
    ...streamParams(stream("aws", "eu-west-1", KEY_ID)),
    bucketName: "corp",
  };
  const text = formatStageFile({
    region: "eu-west-1",
    database: "arn:aws:rds:eu-west-1:1:cluster:a",
    params,
  });
  expect(parseStageFile(text, "params/prod.json", STAGE_PARAM_NAMES)).toEqual({
    region: "eu-west-1",
    database: "arn:aws:rds:eu-west-1:1:cluster:a",
    params,
    problems: [],
  });
  expect(Object.keys(JSON.parse(text).params)).toEqual([
    "bucketName",
    "dasResourceId",
    "dasKmsKeyArn",
    "dasKinesisStreamArn",
    "memorySize",
  ]);
});

test.each([
  ["{", /^f\.json is not JSON \(/],
  ["[]", /^f\.json must hold a JSON object like/],
  ['{"regoin": "eu-west-1"}', /^f\.json has "regoin": only "region", "database", "params" belong there$/],
  ['{"region": "Europe"}', /^f\.json has region "Europe": an AWS region like "eu-west-1" is expected$/],
  ['{"database": 1}', /^f\.json has database 1: the database's ARN is expected$/],
  ['{"params": []}', /^f\.json has "params" that is not an object of parameter names and values$/],
  [
    '{"params": {"dasResourceID": "x"}}',
    /^f\.json sets "dasResourceID", which is not a parameter of the stack$/,
  ],
  [
    '{"params": {"rawPrefix": {"a": 1}}}',
    /^f\.json sets rawPrefix to \{"a":1\}: a string, number or boolean is expected$/,
  ],
])("a stage file %s is refused in one line", (text, line) => {
  const { problems } = parseStageFile(text, "f.json", STAGE_PARAM_NAMES);
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(line);
});
