import { beforeAll, describe, expect, test } from "vitest";
import { readTemplate, type Template } from "./packaged.ts";

let template: Template;
beforeAll(() => {
  template = readTemplate();
}, 300_000);

const resource = (id: string) => {
  const found = template.Resources[id];
  if (found === undefined) throw new Error(`no ${id} in the template`);
  return found;
};
// Template properties are untyped JSON; the assertions below are what checks their shape.
// biome-ignore lint/suspicious/noExplicitAny: reading arbitrary CloudFormation JSON
const props = (id: string) => resource(id).Properties as Record<string, any>;

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
};
const statements = (): Statement[] => props("IamRoleLambdaExecution").Policies[0].PolicyDocument.Statement;
const sub = (text: string) => ({ "Fn::Sub": text });

describe("the function", () => {
  test("runs nodejs22.x on arm64 with source maps, a young generation held at 8 MiB semi-spaces and an old generation of a quarter of its memory, from the bundled handler", () => {
    const fn = props("DecryptLambdaFunction");
    expect(fn.Runtime).toBe("nodejs22.x");
    expect(fn.Architectures).toEqual(["arm64"]);
    expect(fn.Handler).toBe("functions/decrypt.handler");
    expect(fn.MemorySize).toBe(1769);
    expect(fn.Timeout).toBe(900);
    // No reservation unless the reservedConcurrency parameter is given (deploy-errors.test.ts).
    expect(fn).not.toHaveProperty("ReservedConcurrentExecutions");
    // glibc left to itself at one vCPU (no decryption workers): stack-config.test.ts.
    expect(fn.Environment.Variables).not.toHaveProperty("MALLOC_MMAP_THRESHOLD_");
    expect(fn.Environment.Variables).toMatchObject({
      NODE_OPTIONS: "--enable-source-maps --max-semi-space-size=8 --max-old-space-size=442",
      DAS_RESOURCE_ID: "cluster-P74MFUJBI3PYA2N5L22YVVX3VY",
      OUTPUT_PREFIX: "decrypted/",
      QUARANTINE_PREFIX: "quarantine/",
      OUTPUT_FORMAT: "events",
      OUTPUT_COMPRESSION: "gzip",
      OUTPUT_KMS_KEY_ID: { "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] },
    });
  });

  test("publishes a DAS Object Decrypted event per object, and its metrics and logs are the ci stage's own service", () => {
    expect(props("DecryptLambdaFunction").Environment.Variables).toMatchObject({
      PUBLISH_OBJECT_EVENTS: "true",
      POWERTOOLS_SERVICE_NAME: "das-decrypt-ci",
      POWERTOOLS_METRICS_NAMESPACE: "DasDecrypt",
    });
  });

  test("writes nothing to Security Lake unless securityLakeBucket is set: no SECURITY_LAKE_* variable, no STS permission", () => {
    const variables = Object.keys(props("DecryptLambdaFunction").Environment.Variables);
    expect(variables.filter((name) => name.startsWith("SECURITY_LAKE_"))).toEqual([]);
    // The role's trust policy lets Lambda assume it: only its permissions are looked at.
    expect(JSON.stringify(props("IamRoleLambdaExecution").Policies)).not.toMatch(/sts:|SecurityLake|\/ext\//);
  });

  test("async failures: 2 retries, a maximum event age, then the failed-events queue (14 days) with an alarm", () => {
    expect(props("DecryptLambdaEvConf")).toMatchObject({
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": ["FailedEventsQueue", "Arn"] } } },
    });
    expect(props("FailedEventsQueue")).toMatchObject({
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
    });
    expect(props("FailedEventsAlarm")).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": ["FailedEventsQueue", "QueueName"] } }],
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  test("an alarm fires when the stage decrypted no object for 30 minutes, no data counting as none; no topic to notify by default", () => {
    expect(resource("StreamSilenceAlarm").Type).toBe("AWS::CloudWatch::Alarm");
    expect(props("StreamSilenceAlarm")).toMatchObject({
      Namespace: "DasDecrypt",
      MetricName: "ObjectsDecrypted",
      Dimensions: [{ Name: "service", Value: "das-decrypt-ci" }],
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 6,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
    for (const id of ["FailedEventsAlarm", "StreamSilenceAlarm"])
      expect(props(id)).not.toHaveProperty("AlarmActions");
  });
});

describe("the bucket", () => {
  test("notifies the function of s3:ObjectCreated:* under the raw prefix only", () => {
    expect(props("DasBucket").NotificationConfiguration).toEqual({
      LambdaConfigurations: [
        {
          Event: "s3:ObjectCreated:*",
          Filter: { S3Key: { Rules: [{ Name: "prefix", Value: "raw/" }] } },
          Function: { "Fn::GetAtt": ["DecryptLambdaFunction", "Arn"] },
        },
      ],
    });
    expect(resource("DasBucket").DependsOn).toEqual(["DecryptS3InvokePermission"]);
    expect(props("DecryptS3InvokePermission")).toMatchObject({
      Principal: "s3.amazonaws.com",
      SourceAccount: { Ref: "AWS::AccountId" },
      SourceArn: sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example"),
    });
    // Nothing else invokes the function.
    const invokers = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Permission");
    expect(invokers).toHaveLength(1);
  });

  test("is encrypted with SSE-KMS under the stack's key (bucket key on), rotation enabled", () => {
    expect(props("DasBucket").BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: "aws:kms",
            KMSMasterKeyID: { "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] },
          },
          BucketKeyEnabled: true,
        },
      ],
    });
    expect(props("OutputEncryptionKey").EnableKeyRotation).toBe(true);
  });

  test("blocks every kind of public access and enforces bucket-owner object ownership", () => {
    expect(props("DasBucket").PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(props("DasBucket").OwnershipControls).toEqual({
      Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }],
    });
  });

  test("denies requests without TLS, and output writes that ask for other encryption, another KMS key or S3's managed key", () => {
    const policy = props("DasBucketPolicy").PolicyDocument.Statement as Statement[];
    expect(policy).toContainEqual({
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [
        sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example"),
        sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example/*"),
      ],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    // Only a header that is present and wrong is denied: UploadPart and Complete carry none.
    expect(policy.find((s) => s.Sid === "DenyOutputWithoutKms")).toMatchObject({
      Effect: "Deny",
      Action: "s3:PutObject",
      Condition: {
        Null: { "s3:x-amz-server-side-encryption": "false" },
        StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
      },
    });
    expect(policy.find((s) => s.Sid === "DenyOutputUnderOtherKmsKey")).toMatchObject({
      Effect: "Deny",
      Action: "s3:PutObject",
      Condition: {
        Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
        StringNotEquals: {
          "s3:x-amz-server-side-encryption-aws-kms-key-id": { "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] },
        },
      },
    });
    expect(policy.find((s) => s.Sid === "DenyOutputUnderManagedKey")).toMatchObject({
      Effect: "Deny",
      Action: "s3:PutObject",
      Condition: {
        StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
        Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" },
      },
    });
  });

  test("aborts incomplete multipart uploads after one day, expires Athena results after 30 days, plaintext output and quarantined records after 365, and keeps raw objects", () => {
    expect(props("DasBucket").LifecycleConfiguration.Rules).toEqual([
      {
        Id: "AbortIncompleteMultipartUploads",
        Status: "Enabled",
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
      { Id: "ExpireAthenaResults", Status: "Enabled", Prefix: "athena-results/", ExpirationInDays: 30 },
      { Id: "ExpireDecryptedOutput", Status: "Enabled", Prefix: "decrypted/", ExpirationInDays: 365 },
      { Id: "ExpireQuarantinedRecords", Status: "Enabled", Prefix: "quarantine/", ExpirationInDays: 365 },
    ]);
  });

  test("is neither versioned nor locked, and holds the output itself: no second bucket, no OUTPUT_BUCKET", () => {
    for (const name of ["ObjectLockEnabled", "ObjectLockConfiguration", "VersioningConfiguration"])
      expect(props("DasBucket")).not.toHaveProperty(name);
    const buckets = Object.entries(template.Resources).filter(([, r]) => r.Type === "AWS::S3::Bucket");
    // osls's own bucket holds the deployment artifacts.
    expect(buckets.map(([id]) => id).sort()).toEqual(["DasBucket", "ServerlessDeploymentBucket"]);
    expect(props("DecryptLambdaFunction").Environment.Variables).not.toHaveProperty("OUTPUT_BUCKET");
    expect(props("AuditWorkGroup").WorkGroupConfiguration.ResultConfiguration.OutputLocation).toBe(
      "s3://das-decrypt-ci-example/athena-results/",
    );
  });

  test("its encryption key is retained with it when the stack is deleted", () => {
    expect(resource("OutputEncryptionKey")).toMatchObject({
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    expect(resource("DasBucket")).toMatchObject({ DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
  });
});

describe("the function's IAM role is least privilege", () => {
  test("no * action anywhere and no * resource", () => {
    for (const statement of statements()) {
      const actions = [statement.Action].flat();
      for (const action of actions) expect(action.includes("*"), `${action}`).toBe(false);
      expect(JSON.stringify(statement.Resource)).not.toBe('"*"');
      expect([statement.Resource].flat()).not.toContain("*");
    }
  });

  test("exactly these statements: logs, raw read, output write, quarantine write, bound KMS decrypt, output SSE, object events, failure queue", () => {
    const byAction = statements().map((s) => ({
      sid: s.Sid,
      actions: [s.Action].flat().sort(),
      resource: s.Resource,
      condition: s.Condition,
    }));
    const withSid = (sid: string) => byAction.find((s) => s.sid === sid);
    expect(withSid("ReadRawObjects")).toEqual({
      sid: "ReadRawObjects",
      actions: ["s3:GetObject"],
      resource: [sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example/raw/*")],
      condition: undefined,
    });
    expect(withSid("WriteDecryptedObjects")).toEqual({
      sid: "WriteDecryptedObjects",
      actions: ["s3:AbortMultipartUpload", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"],
      resource: [sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example/decrypted/*")],
      condition: undefined,
    });
    expect(withSid("WriteQuarantinedRecords")).toEqual({
      sid: "WriteQuarantinedRecords",
      actions: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"],
      resource: [sub("arn:${AWS::Partition}:s3:::das-decrypt-ci-example/quarantine/*")],
      condition: undefined,
    });
    expect(withSid("DecryptDasDataKeysOfClusters")).toEqual({
      sid: "DecryptDasDataKeysOfClusters",
      actions: ["kms:Decrypt"],
      resource: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      condition: {
        StringEquals: { "kms:EncryptionContext:aws:rds:dbc-id": ["cluster-P74MFUJBI3PYA2N5L22YVVX3VY"] },
      },
    });
    expect(withSid("EncryptOutputThroughS3")).toEqual({
      sid: "EncryptOutputThroughS3",
      actions: ["kms:Decrypt", "kms:GenerateDataKey"],
      resource: [{ "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] }],
      condition: { StringEquals: { "kms:ViaService": sub("s3.${AWS::Region}.amazonaws.com") } },
    });
    expect(withSid("PublishObjectEvents")).toEqual({
      sid: "PublishObjectEvents",
      actions: ["events:PutEvents"],
      resource: [sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default")],
      condition: {
        "ForAllValues:StringEquals": {
          "events:source": "das-decrypt",
          "events:detail-type": "DAS Object Decrypted",
        },
        Null: { "events:source": "false", "events:detail-type": "false" },
      },
    });
    expect(byAction.map((s) => s.sid).filter((sid) => sid !== undefined)).toEqual([
      "ReadRawObjects",
      "WriteDecryptedObjects",
      "WriteQuarantinedRecords",
      "DecryptDasDataKeysOfClusters",
      "EncryptOutputThroughS3",
      "PublishObjectEvents",
    ]);
    const unnamed = byAction.filter((s) => s.sid === undefined).map((s) => s.actions.join(","));
    expect(unnamed.sort()).toEqual([
      "logs:CreateLogGroup,logs:CreateLogStream,logs:TagResource",
      "logs:PutLogEvents",
      "sqs:SendMessage",
    ]);
  });
});

test("with dasKinesisStreamArn the stack wires Firehose from the DAS stream to the raw prefix", () => {
  expect(props("DasFirehose")).toMatchObject({
    DeliveryStreamType: "KinesisStreamAsSource",
    KinesisStreamSourceConfiguration: {
      KinesisStreamARN:
        "arn:aws:kinesis:us-east-1:111122223333:stream/aws-rds-das-cluster-P74MFUJBI3PYA2N5L22YVVX3VY",
    },
    ExtendedS3DestinationConfiguration: {
      Prefix: "raw/",
      ErrorOutputPrefix: "processing-failed/",
      CompressionFormat: "UNCOMPRESSED",
    },
  });
  const firehosePolicy = props("DasFirehoseRole").Policies[0].PolicyDocument.Statement as Statement[];
  for (const statement of firehosePolicy)
    expect([statement.Action].flat().some((a) => a.includes("*"))).toBe(false);
});
