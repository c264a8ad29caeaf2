import { createRequire } from "node:module";
import { describe, expect, test } from "vitest";

const require = createRequire(import.meta.url);
type StackConfig = {
  bucketName: string;
  environment: Record<string, unknown>;
  iamStatements: { Sid?: string; Condition?: unknown }[];
  events: unknown[];
  resources: { Resources: Record<string, unknown> };
};
const build = require("../../deploy/stack-config.cjs") as (input: {
  resolveVariable: (name: string) => Promise<unknown>;
}) => Promise<StackConfig>;

const BASE: Record<string, string> = {
  dasResourceId: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY",
  dasKmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  existingBucket: "false",
  rawPrefix: "raw/",
  outputPrefix: "decrypted/",
  quarantinePrefix: "quarantine/",
  outputFormat: "events",
  outputCompression: "gzip",
  includeHeartbeats: "false",
};

/** Resolves `param:x, ""` from the given params, and the stage/account/region of a pretend deploy. */
function configWith(params: Record<string, string>): Promise<StackConfig> {
  const values: Record<string, string> = { ...BASE, ...params };
  return build({
    resolveVariable: async (expression) => {
      const [source, name] = expression.replace(/, "".*$/, "").split(":");
      if (source === "param") return values[name ?? ""] ?? "";
      return { "sls:stage": "prod", "aws:accountId": "111122223333", "aws:region": "eu-west-1" }[expression];
    },
  });
}

describe("stack parameters are validated and name the parameter at fault", () => {
  test.each([
    [{ dasResourceId: "" }, /Parameter dasResourceId is required/],
    [{ dasResourceId: "my-cluster" }, /Parameter dasResourceId must be a cluster-… or db-… resource id/],
    [
      { dasResourceId: "", dasResourceIdMap: '{"raw/a/":"prod"}' },
      /Parameter dasResourceIdMap\["raw\/a\/"\]/,
    ],
    [{ dasResourceIdMap: "{oops" }, /Parameter dasResourceIdMap must be a JSON object/],
    [{ dasKmsKeyArn: "alias/aws/rds" }, /Parameter dasKmsKeyArn must be the ARN/],
    [{ outputPrefix: "raw/decrypted/" }, /Parameter outputPrefix must not overlap rawPrefix/],
    [{ rawPrefix: "" }, /Parameter rawPrefix must be a non-empty key prefix/],
    [{ existingBucket: "true" }, /Parameter bucketName is required when existingBucket is true/],
    [{ outputFormat: "csv" }, /Parameter outputFormat/],
    [{ dasKinesisStreamArn: "aws-rds-das-x" }, /Parameter dasKinesisStreamArn/],
  ])("%j", async (params, message) => {
    await expect(configWith(params)).rejects.toThrow(message);
  });
});

test("without a bucket name the stack names its bucket from stage, account and region", async () => {
  expect((await configWith({})).bucketName).toBe("das-decrypt-prod-111122223333-eu-west-1");
});

test("a resource id map of clusters and instances gives one KMS statement per encryption context key", async () => {
  const config = await configWith({
    dasResourceId: "",
    dasResourceIdMap: JSON.stringify({
      "raw/pg/": "cluster-AAAA",
      "raw/mysql/": "cluster-BBBB",
      "raw/oracle/": "db-CCCC",
    }),
  });
  const kms = config.iamStatements.filter((s) => s.Sid?.startsWith("DecryptDasDataKeys"));
  expect(kms.map((s) => s.Condition)).toEqual([
    { StringEquals: { "kms:EncryptionContext:aws:rds:dbc-id": ["cluster-AAAA", "cluster-BBBB"] } },
    { StringEquals: { "kms:EncryptionContext:aws:rds:db-id": ["db-CCCC"] } },
  ]);
  expect(config.environment.DAS_RESOURCE_ID_MAP).toBe(
    '{"raw/pg/":"cluster-AAAA","raw/mysql/":"cluster-BBBB","raw/oracle/":"db-CCCC"}',
  );
});

test("an existing bucket gets only the S3 notification (no bucket, policy or permission of the stack)", async () => {
  const config = await configWith({ existingBucket: "true", bucketName: "corp-das-landing" });
  expect(config.events).toEqual([
    {
      s3: {
        bucket: "corp-das-landing",
        event: "s3:ObjectCreated:*",
        rules: [{ prefix: "raw/" }],
        existing: true,
      },
    },
  ]);
  expect(Object.keys(config.resources.Resources).sort()).toEqual([
    "FailedEventsAlarm",
    "FailedEventsQueue",
    "OutputEncryptionKey",
  ]);
});

test("a given output key replaces the stack's key everywhere", async () => {
  const key = "arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  const config = await configWith({ outputKmsKeyArn: key });
  expect(config.environment.OUTPUT_KMS_KEY_ID).toBe(key);
  expect(config.resources.Resources.OutputEncryptionKey).toBeUndefined();
  expect(JSON.stringify(config.resources.Resources)).not.toContain("OutputEncryptionKey");
});
