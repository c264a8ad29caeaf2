import { describe, expect, test } from "vitest";
import { configWith, problemsWith } from "./stack-config-harness.ts";

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
    [
      { quarantinePrefix: "decrypted/bad/" },
      /Parameter quarantinePrefix must neither contain nor lie under outputPrefix "decrypted\/"/,
    ],
    [{ existingBucket: "true" }, /Parameter bucketName is required when existingBucket is true/],
    [{ outputFormat: "csv" }, /Parameter outputFormat/],
    [{ dasKinesisStreamArn: "aws-rds-das-x" }, /Parameter dasKinesisStreamArn/],
    [{ reservedConcurrency: "0" }, /Parameter reservedConcurrency must be a whole number from 1/],
    [{ reservedConcurrency: "-5" }, /Parameter reservedConcurrency must be a whole number from 1/],
    [{ reservedConcurrency: "2.5" }, /Parameter reservedConcurrency must be a whole number from 1/],
    [{ reservedConcurrency: "ten" }, /Parameter reservedConcurrency must be a whole number from 1/],
    [
      { redactParams: "scramble" },
      /Parameter redactParams must be "keep" or "drop" or "hash", got "scramble"/,
    ],
    [{ redactFields: "remoteHost, remote-port" }, /Parameter redactFields must be .* got "remote-port"/],
    [{ redactSqlLiterals: "yes" }, /Parameter redactSqlLiterals must be "true" or "false", got "yes"/],
    [{ memorySize: "1.5GB" }, /Parameter memorySize must be the function's memory in MB, .* got "1.5GB"/],
    [{ memorySize: "64" }, /Parameter memorySize must be .* from 128 to 10240 .* got "64"/],
    [{ memorySize: "20480" }, /Parameter memorySize must be .* got "20480"/],
  ])("%j", async (params, message) => {
    await expect(configWith(params)).rejects.toThrow(message);
  });
});

test("every bad parameter is reported at once, one line each, before the account is asked for", async () => {
  const asked: string[] = [];
  const bad = {
    dasResourceId: "my-cluster",
    dasKmsKeyArn: "",
    outputCompression: "zstd",
    quarantinePrefix: "raw/q/",
    reservedConcurrency: "0",
  };
  const failure = configWith(bad, asked);
  await expect(failure).rejects.toThrow(
    [
      'Parameter dasResourceId must be a cluster-… or db-… resource id, got "my-cluster"',
      "Parameter dasKmsKeyArn is required: the ARN of the KMS key the DAS stream uses (arn:aws:kms:…:key/…)",
      'Parameter outputCompression must be "gzip" or "none", got "zstd"',
      'Parameter quarantinePrefix must not overlap rawPrefix "raw/" in the same bucket',
      'Parameter reservedConcurrency must be a whole number from 1, or empty for none reserved, got "0"',
      'Set parameters with --param="<name>=<value>" or under params in serverless.yml.',
    ].join("\n"),
  );
  expect(asked.every((expression) => expression.startsWith("param:"))).toBe(true);
});

test("a malformed prefix is reported alone, not also as overlapping the others", async () => {
  expect(await problemsWith({ rawPrefix: "" })).toEqual([
    'Parameter rawPrefix must be a non-empty key prefix ending in "/", got ""',
  ]);
});

test("valid parameters have no problems, and a resource id map stands in for the single id", async () => {
  expect(await problemsWith({})).toEqual([]);
  expect(await problemsWith({ dasResourceId: "", dasResourceIdMap: '{"raw/a/":"db-ABC"}' })).toEqual([]);
});

test.each([
  ["", null],
  ["7", 7],
  ["1", 1],
  [" 120 ", 120],
])("reservedConcurrency %j reserves %j executions (null: none)", async (value, reserved) => {
  expect((await configWith({ reservedConcurrency: value })).reservedConcurrency).toBe(reserved);
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
    "StreamSilenceAlarm",
  ]);
});

test("a given output key replaces the stack's key everywhere", async () => {
  const key = "arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  const config = await configWith({ outputKmsKeyArn: key });
  expect(config.environment.OUTPUT_KMS_KEY_ID).toBe(key);
  expect(config.resources.Resources.OutputEncryptionKey).toBeUndefined();
  expect(JSON.stringify(config.resources.Resources)).not.toContain("OutputEncryptionKey");
});

test("filters and redaction reach the function as its EXCLUDE_* and REDACT_* variables, only when set", async () => {
  const config = await configWith({
    excludeUsers: "rdsadmin,rdsproxyadmin",
    excludeDatabases: "tmp",
    excludeCommands: "select",
    redactParams: "drop",
    redactFields: "remoteHost",
    redactSqlLiterals: "true",
  });
  expect(config.environment).toMatchObject({
    EXCLUDE_USERS: "rdsadmin,rdsproxyadmin",
    EXCLUDE_DATABASES: "tmp",
    EXCLUDE_COMMANDS: "select",
    REDACT_PARAMS: "drop",
    REDACT_FIELDS: "remoteHost",
    REDACT_SQL_LITERALS: "true",
  });
  const plain = (await configWith({})).environment;
  for (const name of [
    "EXCLUDE_USERS",
    "EXCLUDE_DATABASES",
    "EXCLUDE_COMMANDS",
    "REDACT_PARAMS",
    "REDACT_FIELDS",
    "REDACT_SQL_LITERALS",
  ]) {
    expect(plain).not.toHaveProperty(name);
  }
  // serverless.yml's default, "false", leaves the variable out as well.
  expect((await configWith({ redactSqlLiterals: "false" })).environment).not.toHaveProperty(
    "REDACT_SQL_LITERALS",
  );
});

test("redactParams=hash adds an HMAC_256 key of the stack, GenerateMac on it alone, and its ARN (never key material) to the function", async () => {
  const config = await configWith({ redactParams: "hash" });
  const key = (
    config.resources.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>
  ).ParamHashKey;
  expect(key).toMatchObject({
    Type: "AWS::KMS::Key",
    Properties: { KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" },
  });
  expect(config.environment).toMatchObject({
    REDACT_PARAMS: "hash",
    PARAM_HASH_KEY_ID: { "Fn::GetAtt": ["ParamHashKey", "Arn"] },
  });
  const statements = config.iamStatements.filter((statement) =>
    JSON.stringify(statement).includes("ParamHashKey"),
  );
  expect(statements).toEqual([
    {
      Sid: "DeriveParamHashKey",
      Effect: "Allow",
      Action: ["kms:GenerateMac"],
      Resource: [{ "Fn::GetAtt": ["ParamHashKey", "Arn"] }],
    },
  ]);
  const plain = await configWith({});
  expect(JSON.stringify(plain)).not.toContain("ParamHashKey");
});

test("glibc's mmap threshold is fixed at 128 KiB from 3538 MB, where the function has decryption workers, and left to glibc below", async () => {
  const mallocAt = async (memorySize: string) =>
    (await configWith({ memorySize })).environment.MALLOC_MMAP_THRESHOLD_;
  expect(await mallocAt("")).toBeUndefined();
  expect(await mallocAt("3537")).toBeUndefined();
  expect(await mallocAt("3538")).toBe("131072");
  expect(await mallocAt("10240")).toBe("131072");
});

test("V8's old generation is a quarter of the function's memory (at least 128 MB), whatever memory the machine reports", async () => {
  const optionsAt = async (memorySize: string) => (await configWith({ memorySize })).environment.NODE_OPTIONS;
  expect(await optionsAt("")).toBe("--enable-source-maps --max-semi-space-size=8 --max-old-space-size=442");
  expect(await optionsAt("3538")).toBe(
    "--enable-source-maps --max-semi-space-size=8 --max-old-space-size=884",
  );
  // Never below 128 MB, V8's own choice at 256 MB: what the function keeps live must fit.
  expect(await optionsAt("128")).toMatch(/ --max-old-space-size=128$/);
  expect(await optionsAt("1024")).toMatch(/ --max-old-space-size=256$/);
});
