// Retention and Object Lock as deploy/stack-config.cjs renders them: each mistake is one line that
// names the parameter, and valid settings become the lifecycle rules, Object Lock and second bucket
// they stand for. cfn-schema.test.ts checks the packaged result against CloudFormation's schemas.
import { describe, expect, test } from "vitest";
import {
  type CfnResource,
  configWith,
  GENERATED_BUCKET,
  problemsWith,
  type StackConfig,
} from "./stack-config-harness.ts";

const LOCK = { rawObjectLockMode: "COMPLIANCE", rawObjectLockDays: "2555" };
const RAW_BUCKET = "das-decrypt-prod-raw";

const resource = (config: StackConfig, id: string): CfnResource => {
  const found = config.resources.Resources[id];
  if (found === undefined) throw new Error(`no ${id} among the resources`);
  return found;
};
const rules = (config: StackConfig, id: string) =>
  resource(config, id).Properties.LifecycleConfiguration.Rules as Record<string, unknown>[];
const sids = (config: StackConfig, id: string) =>
  (resource(config, id).Properties.PolicyDocument.Statement as { Sid: string }[]).map((s) => s.Sid);
const statement = (config: StackConfig, sid: string) => config.iamStatements.find((s) => s.Sid === sid);
const arn = (text: string) => ({ "Fn::Sub": `arn:\${AWS::Partition}:s3:::${text}` });

const ABORT = {
  Id: "AbortIncompleteMultipartUploads",
  Status: "Enabled",
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
};
const ATHENA = {
  Id: "ExpireAthenaResults",
  Status: "Enabled",
  Prefix: "athena-results/",
  ExpirationInDays: 30,
};
const expireOutput = (days: number) => ({
  Id: "ExpireDecryptedOutput",
  Status: "Enabled",
  Prefix: "decrypted/",
  ExpirationInDays: days,
});
const expireQuarantine = (days: number) => ({
  Id: "ExpireQuarantinedRecords",
  Status: "Enabled",
  Prefix: "quarantine/",
  ExpirationInDays: days,
});
const REMOVE_DELETED_VERSIONS = {
  Id: "RemoveDeletedVersions",
  Status: "Enabled",
  NoncurrentVersionExpiration: { NoncurrentDays: 1 },
  ExpiredObjectDeleteMarker: true,
};

describe("each retention or Object Lock mistake is one line naming the parameter", () => {
  test.each([
    [
      { plaintextRetentionDays: "0" },
      'Parameter plaintextRetentionDays must be a whole number of days from 1, or empty for 365, got "0"',
    ],
    [
      { plaintextRetentionDays: "30.5" },
      'Parameter plaintextRetentionDays must be a whole number of days from 1, or empty for 365, got "30.5"',
    ],
    [
      { quarantineRetentionDays: "-7" },
      'Parameter quarantineRetentionDays must be a whole number of days from 1, or empty for 365, got "-7"',
    ],
    [
      { rawRetentionDays: "forever" },
      'Parameter rawRetentionDays must be a whole number of days from 1, or empty to keep raw objects, got "forever"',
    ],
    [
      { rawObjectLockMode: "governance", rawObjectLockDays: "30" },
      'Parameter rawObjectLockMode must be "GOVERNANCE" or "COMPLIANCE", or empty for no lock, got "governance"',
    ],
    [
      { rawObjectLockMode: "COMPLIANCE" },
      "Parameter rawObjectLockDays is required with rawObjectLockMode: the days each raw object stays locked",
    ],
    [
      { rawObjectLockMode: "GOVERNANCE", rawObjectLockDays: "0" },
      'Parameter rawObjectLockDays must be a whole number of days from 1, got "0"',
    ],
    [
      { rawObjectLockDays: "2555" },
      'Parameter rawObjectLockDays needs rawObjectLockMode ("GOVERNANCE" or "COMPLIANCE")',
    ],
    [
      { ...LOCK, rawRetentionDays: "365" },
      'Parameter rawRetentionDays must be at least rawObjectLockDays (2555): a locked object cannot expire, got "365"',
    ],
    [
      { ...LOCK, existingBucket: "true", bucketName: "corp-das-landing" },
      "Parameter rawObjectLockMode cannot apply when existingBucket is true: Object Lock is set when the stack creates its bucket",
    ],
    [
      { ...LOCK, bucketName: RAW_BUCKET, outputBucket: RAW_BUCKET },
      `Parameter outputBucket must not be the locked bucket "${RAW_BUCKET}": the plaintext would stay as long as the raw objects`,
    ],
    [
      { ...LOCK, bucketName: "a".repeat(57) },
      `Parameter outputBucket is required with rawObjectLockMode when the bucket name "${"a".repeat(57)}" is longer than 56 characters (the stack would name its output bucket "<bucket name>-output")`,
    ],
    [
      { existingBucket: "true", bucketName: "corp-das-landing", rawRetentionDays: "400" },
      "Parameter rawRetentionDays cannot apply when existingBucket is true: the bucket's owner sets its lifecycle",
    ],
    [
      { existingBucket: "true", bucketName: "corp-das-landing", plaintextRetentionDays: "30" },
      'Parameter plaintextRetentionDays cannot apply: the output goes to bucket "corp-das-landing", which the stack does not create (its owner sets its lifecycle)',
    ],
    [
      { outputBucket: "corp-das-plaintext", quarantineRetentionDays: "90" },
      'Parameter quarantineRetentionDays cannot apply: the output goes to bucket "corp-das-plaintext", which the stack does not create (its owner sets its lifecycle)',
    ],
  ])("%j", async (params, line) => {
    expect(await problemsWith(params)).toEqual([line]);
    await expect(configWith(params)).rejects.toThrow(line);
  });

  test("a locked bucket the stack names itself is checked once the name is known: not the output bucket, room for -output", async () => {
    await expect(configWith({ ...LOCK, outputBucket: GENERATED_BUCKET })).rejects.toThrow(
      `Parameter outputBucket must not be the locked bucket "${GENERATED_BUCKET}"`,
    );
    const stage = "s".repeat(22);
    await expect(configWith(LOCK, [], stage)).rejects.toThrow(
      `Parameter outputBucket is required with rawObjectLockMode when the bucket name "das-decrypt-${stage}-111122223333-eu-west-1" is longer than 56 characters`,
    );
    // One character less leaves a 63-character output bucket name, S3's longest.
    const fits = await configWith(LOCK, [], "s".repeat(21));
    expect(fits.outputBucket).toHaveLength(63);
  });

  test("valid settings have no problems: equal raw retention and lock, a lock with an output bucket of the user's, defaults with an existing bucket", async () => {
    expect(await problemsWith({ ...LOCK, rawRetentionDays: "2555", plaintextRetentionDays: "30" })).toEqual(
      [],
    );
    expect(await problemsWith({ rawObjectLockMode: "GOVERNANCE", rawObjectLockDays: "1" })).toEqual([]);
    expect(await problemsWith({ ...LOCK, outputBucket: "corp-das-plaintext" })).toEqual([]);
    expect(await problemsWith({ existingBucket: "true", bucketName: "corp-das-landing" })).toEqual([]);
    expect(await problemsWith({ rawRetentionDays: "3650", quarantineRetentionDays: "90" })).toEqual([]);
  });
});

describe("without Object Lock, the stack's one bucket expires what each retention names", () => {
  test("by default plaintext output and quarantine expire after 365 days, raw objects are kept, and the bucket is not versioned", async () => {
    const config = await configWith({});
    expect(rules(config, "DasBucket")).toEqual([ABORT, ATHENA, expireOutput(365), expireQuarantine(365)]);
    const bucket = resource(config, "DasBucket").Properties;
    for (const name of ["ObjectLockEnabled", "ObjectLockConfiguration", "VersioningConfiguration"])
      expect(bucket).not.toHaveProperty(name);
    expect(config.resources.Resources).not.toHaveProperty("DasOutputBucket");
    expect(config.environment).not.toHaveProperty("OUTPUT_BUCKET");
    expect(config.outputBucket).toBe(GENERATED_BUCKET);
  });

  test("each retention given sets its rule, the raw one under rawPrefix", async () => {
    const config = await configWith({
      plaintextRetentionDays: "30",
      quarantineRetentionDays: "90",
      rawRetentionDays: "3650",
      rawPrefix: "das/",
    });
    expect(rules(config, "DasBucket")).toEqual([
      ABORT,
      ATHENA,
      expireOutput(30),
      expireQuarantine(90),
      { Id: "ExpireRawObjects", Status: "Enabled", Prefix: "das/", ExpirationInDays: 3650 },
    ]);
  });

  test("with an output bucket of the user's, the stack's bucket holds and expires only raw objects, and denies no output writes", async () => {
    const config = await configWith({ outputBucket: "corp-das-plaintext", rawRetentionDays: "400" });
    expect(rules(config, "DasBucket")).toEqual([
      ABORT,
      { Id: "ExpireRawObjects", Status: "Enabled", Prefix: "raw/", ExpirationInDays: 400 },
    ]);
    expect(sids(config, "DasBucketPolicy")).toEqual(["DenyInsecureTransport"]);
    expect(config.environment.OUTPUT_BUCKET).toBe("corp-das-plaintext");
  });

  test("the output key outlives the stack, like the buckets whose objects it encrypts", async () => {
    expect(resource(await configWith({}), "OutputEncryptionKey")).toMatchObject({
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
  });
});

describe("with rawObjectLockMode, raw objects are locked in their bucket and the plaintext lives in a second one", () => {
  test("the raw bucket is created with Object Lock, the mode and days as its default retention, and versioning", async () => {
    const config = await configWith({ ...LOCK, bucketName: RAW_BUCKET });
    expect(resource(config, "DasBucket").Properties).toMatchObject({
      BucketName: RAW_BUCKET,
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 2555 } },
      },
      VersioningConfiguration: { Status: "Enabled" },
    });
    const governance = await configWith({ rawObjectLockMode: "GOVERNANCE", rawObjectLockDays: "30" });
    expect(
      resource(governance, "DasBucket").Properties.ObjectLockConfiguration.Rule.DefaultRetention,
    ).toEqual({ Mode: "GOVERNANCE", Days: 30 });
  });

  test("the raw bucket holds no plaintext rule: an expiry of raw objects when asked, then deleted versions and lone delete markers go", async () => {
    const kept = await configWith(LOCK);
    expect(rules(kept, "DasBucket")).toEqual([ABORT, REMOVE_DELETED_VERSIONS]);
    const expiring = await configWith({ ...LOCK, rawRetentionDays: "2920" });
    expect(rules(expiring, "DasBucket")).toEqual([
      ABORT,
      { Id: "ExpireRawObjects", Status: "Enabled", Prefix: "raw/", ExpirationInDays: 2920 },
      REMOVE_DELETED_VERSIONS,
    ]);
    expect(sids(kept, "DasBucketPolicy")).toEqual(["DenyInsecureTransport"]);
  });

  test("the output bucket, <bucket>-output, is hardened like the first, unlocked, and expires plaintext, quarantine and Athena results", async () => {
    const config = await configWith({ ...LOCK, bucketName: RAW_BUCKET, plaintextRetentionDays: "30" });
    const output = resource(config, "DasOutputBucket");
    const raw = resource(config, "DasBucket");
    expect(output).toMatchObject({ Type: "AWS::S3::Bucket", DeletionPolicy: "Retain" });
    expect(output.Properties.BucketName).toBe(`${RAW_BUCKET}-output`);
    for (const name of ["BucketEncryption", "PublicAccessBlockConfiguration", "OwnershipControls"])
      expect(output.Properties[name]).toEqual(raw.Properties[name]);
    for (const name of [
      "ObjectLockEnabled",
      "ObjectLockConfiguration",
      "VersioningConfiguration",
      "NotificationConfiguration",
    ])
      expect(output.Properties).not.toHaveProperty(name);
    expect(rules(config, "DasOutputBucket")).toEqual([
      ABORT,
      ATHENA,
      expireOutput(30),
      expireQuarantine(365),
    ]);

    const policy = resource(config, "DasOutputBucketPolicy").Properties;
    expect(policy.Bucket).toEqual({ Ref: "DasOutputBucket" });
    expect(sids(config, "DasOutputBucketPolicy")).toEqual([
      "DenyInsecureTransport",
      "DenyOutputWithoutKms",
      "DenyOutputUnderOtherKmsKey",
      "DenyOutputUnderManagedKey",
    ]);
    expect(policy.PolicyDocument.Statement[1].Resource).toEqual([
      arn(`${RAW_BUCKET}-output/decrypted/*`),
      arn(`${RAW_BUCKET}-output/quarantine/*`),
    ]);
    expect(config.resources.Outputs.OutputBucketName).toEqual({ Value: `${RAW_BUCKET}-output` });
  });

  test("the function reads raw objects from the locked bucket and writes output and quarantine only to the output bucket", async () => {
    const config = await configWith({ ...LOCK, bucketName: RAW_BUCKET });
    expect(config.environment.OUTPUT_BUCKET).toBe(`${RAW_BUCKET}-output`);
    // custom.athena.bucket in serverless.yml: Athena's results and table location follow it.
    expect(config.outputBucket).toBe(`${RAW_BUCKET}-output`);
    expect(statement(config, "ReadRawObjects")?.Resource).toEqual([arn(`${RAW_BUCKET}/raw/*`)]);
    expect(statement(config, "WriteDecryptedObjects")?.Resource).toEqual([
      arn(`${RAW_BUCKET}-output/decrypted/*`),
    ]);
    expect(statement(config, "WriteQuarantinedRecords")?.Resource).toEqual([
      arn(`${RAW_BUCKET}-output/quarantine/*`),
    ]);
    const writesRaw = config.iamStatements.filter(
      (s) => s.Sid !== "ReadRawObjects" && JSON.stringify(s.Resource).includes(`:::${RAW_BUCKET}/`),
    );
    expect(writesRaw).toEqual([]);
  });

  test("prefixes may overlap once output and raw objects are in different buckets", async () => {
    const config = await configWith({ ...LOCK, outputPrefix: "raw/decrypted/" });
    expect(rules(config, "DasOutputBucket")).toContainEqual({
      ...expireOutput(365),
      Prefix: "raw/decrypted/",
    });
  });

  test("with an output bucket of the user's, the stack locks its raw bucket and creates no second bucket", async () => {
    const config = await configWith({ ...LOCK, outputBucket: "corp-das-plaintext" });
    expect(config.resources.Resources).not.toHaveProperty("DasOutputBucket");
    expect(resource(config, "DasBucket").Properties.ObjectLockEnabled).toBe(true);
    expect(config.environment.OUTPUT_BUCKET).toBe("corp-das-plaintext");
    expect(statement(config, "WriteDecryptedObjects")?.Resource).toEqual([
      arn("corp-das-plaintext/decrypted/*"),
    ]);
  });
});
