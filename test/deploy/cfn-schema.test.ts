import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadResourceSchemas, type SpecDatabase, validateTemplate } from "./cfn-schema.ts";
import { packageTemplate, readTemplate, type Template } from "./packaged.ts";

// Packaging a variant takes ~5 s (it bundles the function too); the five templates, ~25 s.
const PACKAGING_MS = 240_000;
const KMS_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
// Another stage than ci starts from params.default: no Firehose, no resource id.
const OTHER_STAGE = { stage: "cfncheck", bucketName: "das-decrypt-cfncheck-example", dasKmsKeyArn: KMS_KEY };
const TOPIC = "arn:aws:sns:us-east-1:111122223333:das-decrypt-alarms";
const LAKE = {
  securityLakeBucket: "aws-security-data-lake-us-east-1-4f2a9c7e1b3d",
  securityLakeSource: "das-decrypt-aurora",
  securityLakeRoleArn:
    "arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-das-decrypt-aurora-us-east-1",
  securityLakeExternalId: "das-decrypt@111122223333:audit",
};

let spec: SpecDatabase;
let dir: string;
const templates = new Map<string, Template>();

beforeAll(() => {
  spec = loadResourceSchemas();
  dir = mkdtempSync(join(tmpdir(), "das-decrypt-cfn-"));
  templates.set("ci", readTemplate());
  templates.set("existing", packageTemplate(join(dir, "existing"), "ci", { existingBucket: "true" }));
  const { stage, ...common } = OTHER_STAGE;
  templates.set(
    "map",
    packageTemplate(join(dir, "map"), stage, {
      ...common,
      dasResourceIdMap: JSON.stringify({
        "raw/aurora/": "cluster-ABCDEFGHIJKLMNOP",
        "raw/oracle/": "db-QRSTUVWXYZ",
      }),
      excludeUsers: "rdsadmin,rdsproxyadmin",
      redactParams: "hash",
      redactFields: "remoteHost",
      redactSqlLiterals: "true",
      alarmTopicArn: TOPIC,
      streamSilenceMinutes: "7",
    }),
  );
  templates.set(
    "own-key",
    packageTemplate(join(dir, "own-key"), stage, {
      ...common,
      dasResourceId: "db-QRSTUVWXYZ",
      outputBucket: "das-decrypt-cfncheck-output",
      outputKmsKeyArn: KMS_KEY.replace("1234abcd", "5678efab"),
      objectEvents: "false",
      ...LAKE,
    }),
  );
  templates.set(
    "locked",
    packageTemplate(join(dir, "locked"), stage, {
      ...common,
      dasResourceId: "cluster-ABCDEFGHIJKLMNOP",
      dasKinesisStreamArn:
        "arn:aws:kinesis:us-east-1:111122223333:stream/aws-rds-das-cluster-ABCDEFGHIJKLMNOP",
      rawObjectLockMode: "COMPLIANCE",
      rawObjectLockDays: "2555",
      rawRetentionDays: "2555",
      plaintextRetentionDays: "30",
      quarantineRetentionDays: "90",
    }),
  );
}, PACKAGING_MS);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const template = (name: string): Template => {
  const found = templates.get(name);
  if (found === undefined) throw new Error(`no ${name} template was packaged`);
  return found;
};
const types = (name: string) =>
  new Set(Object.values(template(name).Resources).map((resource) => resource.Type));
const variables = (name: string): Record<string, unknown> => {
  const environment = template(name).Resources.DecryptLambdaFunction?.Properties.Environment;
  return (environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
};
const properties = (name: string, id: string): Record<string, unknown> =>
  template(name).Resources[id]?.Properties ?? {};

describe("the packaged template matches CloudFormation's resource schemas (types, properties, required, value types, Ref, GetAtt, Sub, DependsOn)", () => {
  test("ci stage: a bucket of the stack, one cluster id, the stack's output key and the Firehose stream, object events, the failed-events and silence alarms", () => {
    expect(template("ci").Resources.DasBucket?.Type).toBe("AWS::S3::Bucket");
    expect(variables("ci").PUBLISH_OBJECT_EVENTS).toBe("true");
    expect(template("ci").Resources.FailedEventsAlarm?.Type).toBe("AWS::CloudWatch::Alarm");
    expect(template("ci").Resources.StreamSilenceAlarm?.Type).toBe("AWS::CloudWatch::Alarm");
    expect(variables("ci").DAS_RESOURCE_ID).toBe("cluster-P74MFUJBI3PYA2N5L22YVVX3VY");
    expect(types("ci")).toContain("AWS::KMS::Key");
    expect(types("ci")).toContain("AWS::KinesisFirehose::DeliveryStream");
    expect(validateTemplate(template("ci"), spec)).toEqual([]);
  });

  test("existingBucket=true: no bucket of the stack, the notification through serverless's Custom::S3, with Firehose", () => {
    expect(template("existing").Resources.DasBucket).toBeUndefined();
    expect(types("existing")).toContain("Custom::S3");
    expect(types("existing")).toContain("AWS::KinesisFirehose::DeliveryStream");
    expect(validateTemplate(template("existing"), spec)).toEqual([]);
  });

  test("dasResourceIdMap of a cluster and an instance without dasResourceId, no Firehose stream; filters, SQL literals redacted, bind values hashed under an HMAC key of the stack; both alarms notify a topic, silence after 7 minutes", () => {
    expect(properties("map", "FailedEventsAlarm").AlarmActions).toEqual([TOPIC]);
    expect(properties("map", "StreamSilenceAlarm")).toMatchObject({
      Period: 60,
      EvaluationPeriods: 7,
      AlarmActions: [TOPIC],
      OKActions: [TOPIC],
      Dimensions: [{ Name: "service", Value: "das-decrypt-cfncheck" }],
    });
    expect(variables("map").DAS_RESOURCE_ID_MAP).toContain("db-QRSTUVWXYZ");
    expect(variables("map")).toMatchObject({
      EXCLUDE_USERS: "rdsadmin,rdsproxyadmin",
      REDACT_PARAMS: "hash",
      REDACT_FIELDS: "remoteHost",
      REDACT_SQL_LITERALS: "true",
      PARAM_HASH_KEY_ID: { "Fn::GetAtt": ["ParamHashKey", "Arn"] },
    });
    expect(template("map").Resources.ParamHashKey?.Properties).toMatchObject({
      KeySpec: "HMAC_256",
      KeyUsage: "GENERATE_VERIFY_MAC",
    });
    expect(variables("map").DAS_RESOURCE_ID).toBeUndefined();
    expect(types("map")).not.toContain("AWS::KinesisFirehose::DeliveryStream");
    expect(validateTemplate(template("map"), spec)).toEqual([]);
  });

  test("no Firehose stream, an output key and output bucket of the user's: no key of the stack is referenced; objectEvents=false: no event, no EventBridge permission; Security Lake through its provider role: AssumeRole of that role with the external id, and no permission on the lake bucket", () => {
    expect(variables("own-key")).not.toHaveProperty("PUBLISH_OBJECT_EVENTS");
    const role = JSON.stringify(properties("own-key", "IamRoleLambdaExecution"));
    expect(role).not.toContain("events:");
    expect(variables("own-key")).toMatchObject({
      SECURITY_LAKE_BUCKET: LAKE.securityLakeBucket,
      SECURITY_LAKE_SOURCE: LAKE.securityLakeSource,
      SECURITY_LAKE_ACCOUNT_ID: { Ref: "AWS::AccountId" },
      SECURITY_LAKE_ROLE_ARN: LAKE.securityLakeRoleArn,
      SECURITY_LAKE_EXTERNAL_ID: LAKE.securityLakeExternalId,
    });
    const statements = (
      properties("own-key", "IamRoleLambdaExecution") as {
        Policies: { PolicyDocument: { Statement: { Sid?: string }[] } }[];
      }
    ).Policies.flatMap((policy) => policy.PolicyDocument.Statement);
    expect(statements.filter((statement) => JSON.stringify(statement).includes("SecurityLake"))).toEqual([
      {
        Sid: "AssumeSecurityLakeProviderRole",
        Effect: "Allow",
        Action: ["sts:AssumeRole"],
        // osls writes a one-ARN list as the ARN.
        Resource: LAKE.securityLakeRoleArn,
        Condition: { StringEquals: { "sts:ExternalId": LAKE.securityLakeExternalId } },
      },
    ]);
    expect(role).not.toContain(LAKE.securityLakeBucket);
    expect(types("own-key")).not.toContain("AWS::KMS::Key");
    expect(types("own-key")).not.toContain("AWS::KinesisFirehose::DeliveryStream");
    expect(variables("own-key").OUTPUT_BUCKET).toBe("das-decrypt-cfncheck-output");
    expect(validateTemplate(template("own-key"), spec)).toEqual([]);
  });

  test("rawObjectLockMode=COMPLIANCE: a locked, versioned raw bucket Firehose writes to, and a second bucket of the stack for the plaintext, Athena's results and their expiry", () => {
    // biome-ignore lint/suspicious/noExplicitAny: reading arbitrary CloudFormation JSON
    const props = (id: string) => template("locked").Resources[id]?.Properties as Record<string, any>;
    expect(props("DasBucket")).toMatchObject({
      BucketName: "das-decrypt-cfncheck-example",
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 2555 } },
      },
      VersioningConfiguration: { Status: "Enabled" },
    });
    expect(props("DasBucket").LifecycleConfiguration.Rules.map((rule: { Id: string }) => rule.Id)).toEqual([
      "AbortIncompleteMultipartUploads",
      "ExpireRawObjects",
      "RemoveDeletedVersions",
    ]);
    expect(props("DasOutputBucket").BucketName).toBe("das-decrypt-cfncheck-example-output");
    expect(props("DasOutputBucket").LifecycleConfiguration.Rules).toContainEqual({
      Id: "ExpireDecryptedOutput",
      Status: "Enabled",
      Prefix: "decrypted/",
      ExpirationInDays: 30,
    });
    expect(props("DasOutputBucket")).not.toHaveProperty("ObjectLockEnabled");
    expect(variables("locked").OUTPUT_BUCKET).toBe("das-decrypt-cfncheck-example-output");
    expect(props("AuditWorkGroup").WorkGroupConfiguration.ResultConfiguration.OutputLocation).toBe(
      "s3://das-decrypt-cfncheck-example-output/athena-results/",
    );
    expect(props("DasFirehose").ExtendedS3DestinationConfiguration.BucketARN).toEqual({
      "Fn::Sub": "arn:${AWS::Partition}:s3:::das-decrypt-cfncheck-example",
    });
    expect(validateTemplate(template("locked"), spec)).toEqual([]);
  });
});

// biome-ignore lint/suspicious/noExplicitAny: planting faults in arbitrary CloudFormation JSON
type Planted = Record<string, any>;
const FAULTS: [string, (template: Planted) => void, string][] = [
  [
    "an unknown property of AWS::S3::Bucket",
    ({ Resources: r }) => {
      r.DasBucket.Properties.Versioning = { Status: "Enabled" };
    },
    "Resources.DasBucket.Properties.Versioning: AWS::S3::Bucket has no property Versioning",
  ],
  [
    "an unknown property of a nested type",
    ({ Resources: r }) => {
      r.DasBucket.Properties.PublicAccessBlockConfiguration.BlockEverything = true;
    },
    "Resources.DasBucket.Properties.PublicAccessBlockConfiguration.BlockEverything: PublicAccessBlockConfiguration has no property BlockEverything",
  ],
  [
    "a string where a number is required",
    ({ Resources: r }) => {
      r.FailedEventsAlarm.Properties.Threshold = "zero";
    },
    'Resources.FailedEventsAlarm.Properties.Threshold: expected a number, got string "zero"',
  ],
  [
    "a string where a list is required",
    ({ Resources: r }) => {
      r.DecryptLambdaFunction.Properties.Architectures = "arm64";
    },
    'Resources.DecryptLambdaFunction.Properties.Architectures: expected a list, got string "arm64"',
  ],
  [
    "an Fn::Sub string where an object is required",
    ({ Resources: r }) => {
      r.DasBucket.Properties.BucketEncryption = { "Fn::Sub": "aws:kms" };
    },
    "Resources.DasBucket.Properties.BucketEncryption: Fn::Sub gives a scalar, not an object",
  ],
  [
    "a missing required property",
    ({ Resources: r }) => {
      delete r.DecryptS3InvokePermission.Properties.Principal;
    },
    "Resources.DecryptS3InvokePermission.Properties: AWS::Lambda::Permission requires property Principal",
  ],
  [
    "a missing required property of a nested type",
    ({ Resources: r }) => {
      delete r.DasBucket.Properties.LifecycleConfiguration.Rules[0].Status;
    },
    "Resources.DasBucket.Properties.LifecycleConfiguration.Rules[0]: Rule requires property Status",
  ],
  [
    "an Fn::GetAtt of an attribute the type does not have",
    ({ Resources: r }) => {
      r.DasFirehose.Properties.KinesisStreamSourceConfiguration.RoleARN = {
        "Fn::GetAtt": ["DasFirehoseRole", "Name"],
      };
    },
    'Resources.DasFirehose.Properties.KinesisStreamSourceConfiguration.RoleARN: AWS::IAM::Role has no attribute "Name" for Fn::GetAtt',
  ],
  [
    "an Fn::GetAtt of a resource that does not exist",
    ({ Resources: r }) => {
      r.DasBucketPolicy.Properties.Bucket = { "Fn::GetAtt": ["OtherBucket", "Arn"] };
    },
    'Resources.DasBucketPolicy.Properties.Bucket: Fn::GetAtt of "OtherBucket", which is not a resource',
  ],
  [
    "a Ref to nothing",
    ({ Resources: r }) => {
      r.DasBucketPolicy.Properties.Bucket = { Ref: "OtherBucket" };
    },
    'Resources.DasBucketPolicy.Properties.Bucket: Ref "OtherBucket" is not a resource, parameter or pseudo parameter',
  ],
  [
    "an Fn::Sub naming nothing",
    ({ Resources: r }) => {
      r.DecryptS3InvokePermission.Properties.SourceArn = {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${OtherBucket}",
      };
    },
    "Resources.DecryptS3InvokePermission.Properties.SourceArn: Fn::Sub ${OtherBucket} is not a resource, parameter or pseudo parameter",
  ],
  [
    "an Fn::Sub of an attribute the type does not have",
    ({ Resources: r }) => {
      r.DecryptS3InvokePermission.Properties.SourceArn = { "Fn::Sub": "${DasBucket.BucketArn}" };
    },
    'Resources.DecryptS3InvokePermission.Properties.SourceArn: AWS::S3::Bucket has no attribute "BucketArn" for Fn::Sub ${DasBucket.BucketArn}',
  ],
  [
    "an unknown resource type",
    ({ Resources: r }) => {
      r.FailedEventsQueue.Type = "AWS::SQS::Queues";
    },
    "Resources.FailedEventsQueue.Type: CloudFormation has no resource type AWS::SQS::Queues",
  ],
  [
    "a misspelt resource attribute",
    ({ Resources: r }) => {
      r.DasBucket.DeletePolicy = "Retain";
    },
    "Resources.DasBucket.DeletePolicy: not a resource attribute of AWS::S3::Bucket",
  ],
  [
    "a DependsOn on nothing",
    ({ Resources: r }) => {
      r.DasBucket.DependsOn = ["OtherPermission"];
    },
    'Resources.DasBucket.DependsOn: "OtherPermission" is not another resource',
  ],
  [
    "a DeletionPolicy CloudFormation does not have",
    ({ Resources: r }) => {
      r.DasBucket.DeletionPolicy = "Keep";
    },
    'Resources.DasBucket.DeletionPolicy: "Keep" is not a deletion policy',
  ],
  [
    "an Fn::If on a condition the template does not define",
    ({ Resources: r }) => {
      r.DasBucket.Properties.BucketName = { "Fn::If": ["IsProduction", "a", { Ref: "AWS::NoValue" }] };
    },
    'Resources.DasBucket.Properties.BucketName: Fn::If on "IsProduction", which is not a condition',
  ],
  [
    "an output without a Value",
    (t) => {
      t.Outputs.DasBucketName = { Description: "the bucket" };
    },
    "Outputs.DasBucketName: an output needs a Value",
  ],
  [
    "an unknown template section",
    (t) => {
      t.Output = {};
    },
    "Output: not a template section",
  ],
];

describe("the validator is not a no-op: a fault planted in the ci template is reported", () => {
  test.each(FAULTS)("%s", (_, plant, problem) => {
    const planted = structuredClone(template("ci")) as Planted;
    plant(planted);
    expect(validateTemplate(planted, spec)).toEqual([problem]);
  });
});

const LOCK_FAULTS: [string, (template: Planted) => void, string][] = [
  [
    "an Object Lock mode S3 does not have",
    ({ Resources: r }) => {
      r.DasBucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode = "LEGAL_HOLD";
    },
    'Resources.DasBucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode: "LEGAL_HOLD" is not one of COMPLIANCE, GOVERNANCE',
  ],
  [
    "retention days that are not a whole number",
    ({ Resources: r }) => {
      r.DasBucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Days = 7.5;
    },
    "Resources.DasBucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Days: expected an integer, got number 7.5",
  ],
  [
    "a noncurrent-version expiry without its days",
    ({ Resources: r }) => {
      delete r.DasBucket.Properties.LifecycleConfiguration.Rules[2].NoncurrentVersionExpiration
        .NoncurrentDays;
    },
    "Resources.DasBucket.Properties.LifecycleConfiguration.Rules[2].NoncurrentVersionExpiration: NoncurrentVersionExpiration requires property NoncurrentDays",
  ],
  [
    "a versioning status S3 does not have",
    ({ Resources: r }) => {
      r.DasBucket.Properties.VersioningConfiguration.Status = "On";
    },
    'Resources.DasBucket.Properties.VersioningConfiguration.Status: "On" is not one of Enabled, Suspended',
  ],
  [
    "an output bucket policy on a bucket that does not exist",
    ({ Resources: r }) => {
      r.DasOutputBucketPolicy.Properties.Bucket = { Ref: "DasOutputBuckets" };
    },
    'Resources.DasOutputBucketPolicy.Properties.Bucket: Ref "DasOutputBuckets" is not a resource, parameter or pseudo parameter',
  ],
];

const ALARM_FAULTS: [string, (template: Planted) => void, string][] = [
  [
    "a topic where a list of actions is required",
    ({ Resources: r }) => {
      r.StreamSilenceAlarm.Properties.OKActions = TOPIC;
    },
    `Resources.StreamSilenceAlarm.Properties.OKActions: expected a list, got string "${TOPIC}"`,
  ],
  [
    "a misspelt alarm property",
    ({ Resources: r }) => {
      r.FailedEventsAlarm.Properties.AlarmAction = [TOPIC];
    },
    "Resources.FailedEventsAlarm.Properties.AlarmAction: AWS::CloudWatch::Alarm has no property AlarmAction",
  ],
  [
    "a metric dimension without its value",
    ({ Resources: r }) => {
      delete r.StreamSilenceAlarm.Properties.Dimensions[0].Value;
    },
    "Resources.StreamSilenceAlarm.Properties.Dimensions[0]: Dimension requires property Value",
  ],
];

describe("the alarms' properties are checked too: a fault planted in the template with a topic is reported", () => {
  test.each(ALARM_FAULTS)("%s", (_, plant, problem) => {
    const planted = structuredClone(template("map")) as Planted;
    plant(planted);
    expect(validateTemplate(planted, spec)).toEqual([problem]);
  });
});

describe("the Object Lock and lifecycle properties are checked too: a fault planted in the locked template is reported", () => {
  test.each(LOCK_FAULTS)("%s", (_, plant, problem) => {
    const planted = structuredClone(template("locked")) as Planted;
    plant(planted);
    expect(validateTemplate(planted, spec)).toEqual([problem]);
  });
});
