// Turns the stack's parameters into the parts of the CloudFormation that depend on them: the
// function's environment, its least-privilege IAM statements, the S3 event or bucket, the failure
// queue and alarm, the output encryption key and, optionally, the Firehose delivery stream.
// serverless.yml reads it with ${file(./deploy/stack-config.cjs):<part>}. It validates every
// parameter the way the function validates its environment; deploy/preflight-plugin.cjs runs the
// same checks (checkParams) before osls resolves this file, so a user sees every bad one at once.
"use strict";

const RESOURCE_ID = /^(cluster|db)-[A-Za-z0-9]+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const KINESIS_ARN = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]+$/;
const POSITIVE_INTEGER = /^[1-9][0-9]*$/;
/** The function's own rule for REDACT_FIELDS entries (src/config.ts). */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A comma-separated parameter's entries, trimmed, empty ones dropped. */
function listParam(value) {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

const PARAM_NAMES = [
  "bucketName",
  "existingBucket",
  "rawPrefix",
  "dasResourceId",
  "dasResourceIdMap",
  "dasKmsKeyArn",
  "outputBucket",
  "outputPrefix",
  "quarantinePrefix",
  "outputFormat",
  "outputCompression",
  "includeHeartbeats",
  "excludeUsers",
  "excludeDatabases",
  "excludeCommands",
  "redactParams",
  "redactFields",
  "outputKmsKeyArn",
  "dasKinesisStreamArn",
  "reservedConcurrency",
];

/** The message of every bad parameter found: one line each, then how to set them. */
function describeProblems(problems) {
  return [
    ...problems,
    'Set parameters with --param="<name>=<value>" or under params in serverless.yml.',
  ].join("\n");
}

/** Every bad parameter at once; `problems` holds one "Parameter <name> …" line for each. */
class ParameterError extends Error {
  constructor(problems) {
    super(describeProblems(problems));
    this.name = "ParameterError";
    this.problems = problems;
  }
}

/**
 * The parameters as trimmed strings ("" when unset), read with `readParam(name)`: osls's resolver
 * of `param:<name>` here, its `param` variable source in the preflight plugin.
 */
async function readParams(readParam) {
  const params = {};
  for (const name of PARAM_NAMES) {
    const value = await readParam(name);
    params[name] = value === null || value === undefined ? "" : String(value).trim();
  }
  return params;
}

/** Resource ids by encryption context key, from the single id and the prefix map, and what is wrong with them. */
function resourceIds(params) {
  const problems = [];
  const ids = [];
  if (params.dasResourceId !== "") ids.push(["dasResourceId", params.dasResourceId]);
  let mapProblem = null;
  if (params.dasResourceIdMap !== "") {
    let map = null;
    try {
      map = JSON.parse(params.dasResourceIdMap);
    } catch {}
    if (map === null || typeof map !== "object" || Array.isArray(map)) {
      mapProblem = 'Parameter dasResourceIdMap must be a JSON object like {"raw/cluster-a/":"cluster-…"}';
    } else {
      for (const [prefix, id] of Object.entries(map)) ids.push([`dasResourceIdMap["${prefix}"]`, String(id)]);
    }
  }
  if (ids.length === 0 && mapProblem === null) {
    problems.push("Parameter dasResourceId is required: the DAS stream's resource id (cluster-… or db-…)");
  }
  const byContext = { "aws:rds:dbc-id": [], "aws:rds:db-id": [] };
  for (const [name, id] of ids) {
    const match = RESOURCE_ID.exec(id);
    if (match === null) {
      problems.push(`Parameter ${name} must be a cluster-… or db-… resource id, got "${id}"`);
      continue;
    }
    const list = byContext[match[1] === "cluster" ? "aws:rds:dbc-id" : "aws:rds:db-id"];
    if (!list.includes(id)) list.push(id);
  }
  if (mapProblem !== null) problems.push(mapProblem);
  return { byContext, problems };
}

function checkPrefixes(params) {
  const problems = [];
  for (const name of ["rawPrefix", "outputPrefix", "quarantinePrefix"]) {
    if (params[name] === "" || !params[name].endsWith("/")) {
      problems.push(`Parameter ${name} must be a non-empty key prefix ending in "/", got "${params[name]}"`);
    }
  }
  const sameBucket = params.outputBucket === "" || params.outputBucket === params.bucketName;
  // Overlap is only meaningful between well-formed prefixes ("" would overlap everything).
  if (!sameBucket || problems.length > 0) return problems;
  const { rawPrefix, outputPrefix, quarantinePrefix } = params;
  for (const [name, other] of [
    ["outputPrefix", outputPrefix],
    ["quarantinePrefix", quarantinePrefix],
  ]) {
    if (other.startsWith(rawPrefix) || rawPrefix.startsWith(other)) {
      // The notification filters on the raw prefix: output under it would trigger the function again.
      problems.push(`Parameter ${name} must not overlap rawPrefix "${rawPrefix}" in the same bucket`);
    }
  }
  return problems;
}

/**
 * Every problem with the parameters, one "Parameter <name> …" line each (none: all valid). Pure: it
 * needs no AWS access, so a deploy can report them all before credentials are looked at.
 */
function checkParams(params) {
  const problems = [];
  const oneOf = (name, allowed) => {
    if (!allowed.includes(params[name])) {
      problems.push(
        `Parameter ${name} must be ${allowed.map((v) => `"${v}"`).join(" or ")}, got "${params[name]}"`,
      );
    }
  };
  oneOf("existingBucket", ["true", "false"]);
  if (params.existingBucket === "true" && params.bucketName === "") {
    problems.push("Parameter bucketName is required when existingBucket is true");
  }
  problems.push(...resourceIds(params).problems);
  if (params.dasKmsKeyArn === "") {
    problems.push(
      "Parameter dasKmsKeyArn is required: the ARN of the KMS key the DAS stream uses (arn:aws:kms:…:key/…)",
    );
  } else if (!KMS_KEY_ARN.test(params.dasKmsKeyArn)) {
    problems.push(
      `Parameter dasKmsKeyArn must be the ARN of the KMS key the DAS stream uses (arn:aws:kms:…:key/…), got "${params.dasKmsKeyArn}"`,
    );
  }
  if (params.outputKmsKeyArn !== "" && !KMS_KEY_ARN.test(params.outputKmsKeyArn)) {
    problems.push("Parameter outputKmsKeyArn must be a KMS key ARN, or empty for a key of the stack");
  }
  if (params.dasKinesisStreamArn !== "" && !KINESIS_ARN.test(params.dasKinesisStreamArn)) {
    problems.push(
      "Parameter dasKinesisStreamArn must be the ARN of the aws-rds-das-… Kinesis stream, or empty",
    );
  }
  oneOf("outputFormat", ["events", "records"]);
  oneOf("outputCompression", ["gzip", "none"]);
  oneOf("includeHeartbeats", ["true", "false"]);
  if (params.redactParams !== "") oneOf("redactParams", ["keep", "drop", "hash"]);
  for (const field of listParam(params.redactFields)) {
    if (!FIELD_NAME.test(field)) {
      problems.push(
        `Parameter redactFields must be comma-separated field names (letters, digits, _), got "${field}"`,
      );
    }
  }
  problems.push(...checkPrefixes(params));
  if (params.reservedConcurrency !== "" && !POSITIVE_INTEGER.test(params.reservedConcurrency)) {
    // 0 would be accepted by Lambda and stop the function altogether.
    problems.push(
      `Parameter reservedConcurrency must be a whole number from 1, or empty for none reserved, got "${params.reservedConcurrency}"`,
    );
  }
  return problems;
}

const sub = (text) => ({ "Fn::Sub": text });

// Node's options in the function. --max-semi-space-size=8 (MiB) keeps V8's young generation at its
// starting size: left to grow, it doubles a few seconds into a large object, and external memory
// that survived a few young collections waits for a full one, so peak memory would grow with the
// object's size (BENCHMARKS.md, "Memory"). The benchmark runs the bundle with these same options.
const NODE_OPTIONS = "--enable-source-maps --max-semi-space-size=8";

module.exports = async ({ resolveVariable }) => {
  const params = await readParams((name) => resolveVariable(`param:${name}, ""`));
  const problems = checkParams(params);
  if (problems.length > 0) throw new ParameterError(problems);
  const existing = params.existingBucket === "true";
  const ids = resourceIds(params).byContext;
  const bucketName =
    params.bucketName !== ""
      ? params.bucketName
      : `das-decrypt-${await resolveVariable("sls:stage")}-${await resolveVariable("aws:accountId")}-${await resolveVariable("aws:region")}`;
  const outputBucket = params.outputBucket !== "" ? params.outputBucket : bucketName;
  const outputKeyArn =
    params.outputKmsKeyArn !== "" ? params.outputKmsKeyArn : { "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] };
  const s3Arn = (bucket, prefix) => sub(`arn:\${AWS::Partition}:s3:::${bucket}/${prefix}*`);

  const hashing = params.redactParams === "hash";
  const environment = {
    NODE_OPTIONS,
    ...(params.dasResourceId !== "" ? { DAS_RESOURCE_ID: params.dasResourceId } : {}),
    ...(params.dasResourceIdMap !== "" ? { DAS_RESOURCE_ID_MAP: params.dasResourceIdMap } : {}),
    ...(params.outputBucket !== "" ? { OUTPUT_BUCKET: params.outputBucket } : {}),
    OUTPUT_PREFIX: params.outputPrefix,
    QUARANTINE_PREFIX: params.quarantinePrefix,
    OUTPUT_FORMAT: params.outputFormat,
    OUTPUT_COMPRESSION: params.outputCompression,
    INCLUDE_HEARTBEATS: params.includeHeartbeats,
    ...(params.excludeUsers !== "" ? { EXCLUDE_USERS: params.excludeUsers } : {}),
    ...(params.excludeDatabases !== "" ? { EXCLUDE_DATABASES: params.excludeDatabases } : {}),
    ...(params.excludeCommands !== "" ? { EXCLUDE_COMMANDS: params.excludeCommands } : {}),
    ...(params.redactParams !== "" ? { REDACT_PARAMS: params.redactParams } : {}),
    ...(hashing ? { PARAM_HASH_KEY_ID: PARAM_HASH_KEY_ARN } : {}),
    ...(params.redactFields !== "" ? { REDACT_FIELDS: params.redactFields } : {}),
    OUTPUT_KMS_KEY_ID: outputKeyArn,
    POWERTOOLS_SERVICE_NAME: "das-decrypt",
    POWERTOOLS_METRICS_NAMESPACE: "DasDecrypt",
    POWERTOOLS_LOG_LEVEL: "INFO",
  };

  const kmsDecryptStatements = Object.entries(ids)
    .filter(([, list]) => list.length > 0)
    .map(([contextKey, list]) => ({
      Sid: contextKey === "aws:rds:dbc-id" ? "DecryptDasDataKeysOfClusters" : "DecryptDasDataKeysOfInstances",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [params.dasKmsKeyArn],
      Condition: { StringEquals: { [`kms:EncryptionContext:${contextKey}`]: list } },
    }));
  const iamStatements = [
    {
      Sid: "ReadRawObjects",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: [s3Arn(bucketName, params.rawPrefix)],
    },
    {
      // Tags hold each output's counts (set after the upload: no new version, no ObjectCreated);
      // an earlier run's tags tell whether it left a quarantine object that a clean rerun removes.
      Sid: "WriteDecryptedObjects",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging", "s3:GetObjectTagging"],
      Resource: [s3Arn(outputBucket, params.outputPrefix)],
    },
    {
      Sid: "WriteQuarantinedRecords",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
      Resource: [s3Arn(outputBucket, params.quarantinePrefix)],
    },
    ...kmsDecryptStatements,
    {
      // SSE-KMS of the plaintext written; only via S3. kms:Decrypt too: a multipart upload's parts
      // are encrypted under a data key S3 decrypts again for each part and at completion.
      Sid: "EncryptOutputThroughS3",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: [outputKeyArn],
      Condition: { StringEquals: { "kms:ViaService": sub("s3.${AWS::Region}.amazonaws.com") } },
    },
    ...(hashing
      ? [
          {
            // REDACT_PARAMS=hash: the bind-value hash key is this key's MAC of a fixed message,
            // asked once per container; the key itself never leaves KMS.
            Sid: "DeriveParamHashKey",
            Effect: "Allow",
            Action: ["kms:GenerateMac"],
            Resource: [PARAM_HASH_KEY_ARN],
          },
        ]
      : []),
  ];

  const events = existing
    ? [
        {
          s3: {
            bucket: bucketName,
            event: "s3:ObjectCreated:*",
            rules: [{ prefix: params.rawPrefix }],
            existing: true,
          },
        },
      ]
    : [];

  const Resources = {
    ...failureResources(),
    ...(params.outputKmsKeyArn === "" ? outputKeyResources() : {}),
    ...(hashing ? paramHashKeyResources() : {}),
    ...(existing ? {} : bucketResources(bucketName, params, outputKeyArn)),
    ...(params.dasKinesisStreamArn !== "" ? firehoseResources(bucketName, params, outputKeyArn) : {}),
  };
  const Outputs = {
    DasBucketName: { Value: bucketName },
    FailedEventsQueueUrl: { Value: { Ref: "FailedEventsQueue" } },
    OutputEncryptionKeyArn: { Value: outputKeyArn },
  };
  // Unset: no reservation. A reserved 20 fails stack creation where the account's quota is 10 or 50.
  const reservedConcurrency = params.reservedConcurrency === "" ? null : Number(params.reservedConcurrency);
  return {
    bucketName,
    outputBucket,
    environment,
    iamStatements,
    events,
    reservedConcurrency,
    resources: { Resources, Outputs },
  };
};

function failureResources() {
  return {
    FailedEventsQueue: {
      Type: "AWS::SQS::Queue",
      Properties: {
        // Events Lambda gave up on (after its retries) wait here 14 days for a look and a redrive.
        MessageRetentionPeriod: 1209600,
        SqsManagedSseEnabled: true,
      },
    },
    FailedEventsAlarm: {
      Type: "AWS::CloudWatch::Alarm",
      Properties: {
        AlarmDescription:
          "das-decrypt gave up on an S3 event: an object was not decrypted (see the failed-events queue)",
        Namespace: "AWS/SQS",
        MetricName: "ApproximateNumberOfMessagesVisible",
        Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": ["FailedEventsQueue", "QueueName"] } }],
        Statistic: "Maximum",
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        TreatMissingData: "notBreaching",
      },
    },
  };
}

const PARAM_HASH_KEY_ARN = { "Fn::GetAtt": ["ParamHashKey", "Arn"] };

/** The HMAC key of REDACT_PARAMS=hash: replace it (a new stack key) to change every hash. */
function paramHashKeyResources() {
  return {
    ParamHashKey: accountAdministeredKey({
      Description: "Derives das-decrypt's key for hashing bind values (REDACT_PARAMS=hash)",
      KeySpec: "HMAC_256",
      KeyUsage: "GENERATE_VERIFY_MAC",
    }),
  };
}

function outputKeyResources() {
  return {
    OutputEncryptionKey: accountAdministeredKey({
      Description: "Encrypts das-decrypt's plaintext audit output at rest",
      EnableKeyRotation: true,
    }),
  };
}

/** A KMS key of the stack whose use is then granted by IAM policies of the account (the function's role). */
function accountAdministeredKey(properties) {
  return {
    Type: "AWS::KMS::Key",
    Properties: {
      ...properties,
      KeyPolicy: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "AccountAdministersKey",
            Effect: "Allow",
            Principal: { AWS: sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
            Action: "kms:*",
            Resource: "*",
          },
        ],
      },
    },
  };
}

function bucketResources(bucketName, params, outputKeyArn) {
  const bucketArn = sub(`arn:\${AWS::Partition}:s3:::${bucketName}`);
  const objectsArn = (prefix) => sub(`arn:\${AWS::Partition}:s3:::${bucketName}/${prefix}*`);
  const denyOutputWriteUnless = (Sid, header, value) => ({
    Sid,
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: [objectsArn(params.outputPrefix), objectsArn(params.quarantinePrefix)],
    Condition: { Null: { [header]: "false" }, StringNotEquals: { [header]: value } },
  });
  return {
    DecryptS3InvokePermission: {
      Type: "AWS::Lambda::Permission",
      Properties: {
        FunctionName: { "Fn::GetAtt": ["DecryptLambdaFunction", "Arn"] },
        Action: "lambda:InvokeFunction",
        Principal: "s3.amazonaws.com",
        SourceAccount: { Ref: "AWS::AccountId" },
        SourceArn: bucketArn,
      },
    },
    DasBucket: {
      Type: "AWS::S3::Bucket",
      DependsOn: ["DecryptS3InvokePermission"],
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        BucketName: bucketName,
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: outputKeyArn },
              BucketKeyEnabled: true,
            },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
        LifecycleConfiguration: {
          Rules: [
            {
              Id: "AbortIncompleteMultipartUploads",
              Status: "Enabled",
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
            // Athena query results hold plaintext audit data too; they are not kept past a month.
            { Id: "ExpireAthenaResults", Status: "Enabled", Prefix: "athena-results/", ExpirationInDays: 30 },
          ],
        },
        NotificationConfiguration: {
          LambdaConfigurations: [
            {
              Event: "s3:ObjectCreated:*",
              Filter: { S3Key: { Rules: [{ Name: "prefix", Value: params.rawPrefix }] } },
              Function: { "Fn::GetAtt": ["DecryptLambdaFunction", "Arn"] },
            },
          ],
        },
      },
    },
    DasBucketPolicy: {
      Type: "AWS::S3::BucketPolicy",
      Properties: {
        Bucket: { Ref: "DasBucket" },
        PolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [bucketArn, sub(`arn:\${AWS::Partition}:s3:::${bucketName}/*`)],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            // Plaintext is never stored without SSE-KMS: a write that asks for other encryption, or
            // for another KMS key than the output's, is refused; one that asks for none gets the
            // bucket's default (SSE-KMS under the output key, above). UploadPart and
            // CompleteMultipartUpload are authorized as s3:PutObject and never carry these headers:
            // only a header that is present (Null: false) and wrong is denied.
            denyOutputWriteUnless("DenyOutputWithoutKms", "s3:x-amz-server-side-encryption", "aws:kms"),
            denyOutputWriteUnless(
              "DenyOutputUnderOtherKmsKey",
              "s3:x-amz-server-side-encryption-aws-kms-key-id",
              outputKeyArn,
            ),
            {
              // aws:kms without a key id would mean S3's AWS managed key (aws/s3), not the output's.
              Sid: "DenyOutputUnderManagedKey",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:PutObject",
              Resource: [objectsArn(params.outputPrefix), objectsArn(params.quarantinePrefix)],
              Condition: {
                StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
                Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" },
              },
            },
          ],
        },
      },
    },
  };
}

function firehoseResources(bucketName, params, outputKeyArn) {
  return {
    DasFirehoseRole: {
      Type: "AWS::IAM::Role",
      Properties: {
        AssumeRolePolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "firehose.amazonaws.com" },
              Action: "sts:AssumeRole",
              Condition: { StringEquals: { "sts:ExternalId": { Ref: "AWS::AccountId" } } },
            },
          ],
        },
        Policies: [
          {
            PolicyName: "das-firehose",
            PolicyDocument: {
              Version: "2012-10-17",
              Statement: [
                {
                  Effect: "Allow",
                  Action: [
                    "kinesis:DescribeStream",
                    "kinesis:GetShardIterator",
                    "kinesis:GetRecords",
                    "kinesis:ListShards",
                  ],
                  Resource: [params.dasKinesisStreamArn],
                },
                {
                  Effect: "Allow",
                  Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
                  Resource: [
                    sub(`arn:\${AWS::Partition}:s3:::${bucketName}/${params.rawPrefix}*`),
                    sub(`arn:\${AWS::Partition}:s3:::${bucketName}/processing-failed/*`),
                  ],
                },
                {
                  Effect: "Allow",
                  Action: ["s3:GetBucketLocation", "s3:ListBucket"],
                  Resource: [sub(`arn:\${AWS::Partition}:s3:::${bucketName}`)],
                },
                {
                  Effect: "Allow",
                  Action: ["kms:GenerateDataKey", "kms:Decrypt"],
                  Resource: [outputKeyArn],
                  Condition: { StringEquals: { "kms:ViaService": sub("s3.${AWS::Region}.amazonaws.com") } },
                },
              ],
            },
          },
        ],
      },
    },
    DasFirehose: {
      Type: "AWS::KinesisFirehose::DeliveryStream",
      Properties: {
        DeliveryStreamType: "KinesisStreamAsSource",
        KinesisStreamSourceConfiguration: {
          KinesisStreamARN: params.dasKinesisStreamArn,
          RoleARN: { "Fn::GetAtt": ["DasFirehoseRole", "Arn"] },
        },
        ExtendedS3DestinationConfiguration: {
          BucketARN: sub(`arn:\${AWS::Partition}:s3:::${bucketName}`),
          RoleARN: { "Fn::GetAtt": ["DasFirehoseRole", "Arn"] },
          // Firehose appends YYYY/MM/dd/HH/ (UTC) to this prefix; records are already encrypted.
          Prefix: params.rawPrefix,
          ErrorOutputPrefix: "processing-failed/",
          CompressionFormat: "UNCOMPRESSED",
          BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 300 },
        },
      },
    },
  };
}

module.exports.NODE_OPTIONS = NODE_OPTIONS;
module.exports.readParams = readParams;
module.exports.checkParams = checkParams;
module.exports.describeProblems = describeProblems;
module.exports.ParameterError = ParameterError;
