// Turns the stack's parameters into the parts of the CloudFormation that depend on them: the
// function's environment, its least-privilege IAM statements, the S3 event or bucket, the failure
// queue, the alarms, the output encryption key and, optionally, the Firehose delivery stream and
// the writes to an Amazon Security Lake custom source.
// serverless.yml reads it with ${file(./deploy/stack-config.cjs):<part>}. It validates every
// parameter the way the function validates its environment; deploy/preflight-plugin.cjs runs the
// same checks (checkParams) before osls resolves this file, so a user sees every bad one at once.
"use strict";

const RESOURCE_ID = /^(cluster|db)-[A-Za-z0-9]+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const KINESIS_ARN = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]+$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const POSITIVE_INTEGER = /^[1-9][0-9]*$/;
/** The function's own rule for REDACT_FIELDS entries (src/config/config.ts). */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Days plaintext output and quarantine objects live in a bucket of the stack when not set. */
const OUTPUT_RETENTION_DAYS = 365;
const LOCK_MODES = ["GOVERNANCE", "COMPLIANCE"];
/** S3's longest bucket name, and what the stack appends to name the output bucket of a locked stack. */
const BUCKET_NAME_MAX = 63;
const OUTPUT_BUCKET_SUFFIX = "-output";
/** The namespace of the function's metrics (POWERTOOLS_METRICS_NAMESPACE), which the silence alarm watches. */
const METRICS_NAMESPACE = "DasDecrypt";
/** The one event the function may put, on the default bus (src/lambda/object-events.ts). */
const OBJECT_EVENT_SOURCE = "das-decrypt";
const OBJECT_EVENT_DETAIL_TYPE = "DAS Object Decrypted";
/** CloudWatch evaluates an alarm over a day at most (Period × EvaluationPeriods). */
const SILENCE_MINUTES_MAX = 1440;
/**
 * How long the Firehose stream the stack creates buffers before it writes an object: on a quiet
 * stream (heartbeats only) objects are 5 minutes apart, so a silence alarm needs two intervals.
 */
const FIREHOSE_BUFFER_SECONDS = 300;
const FIREHOSE_SILENCE_MINUTES_MIN = (2 * FIREHOSE_BUFFER_SECONDS) / 60;
/** The custom source the function writes to when securityLakeSource is empty (src/config/config.ts). */
const SECURITY_LAKE_SOURCE = "das-decrypt";
/** The function's rules for SECURITY_LAKE_SOURCE and SECURITY_LAKE_ROLE_ARN (src/config/config.ts). */
const SECURITY_LAKE_SOURCE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const IAM_ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
/** STS's rule for AssumeRole's ExternalId. */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** S3's rules for a general purpose bucket's name: characters and length, then what is reserved. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const RESERVED_BUCKET_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_BUCKET_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

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
  "redactSqlLiterals",
  "outputKmsKeyArn",
  "dasKinesisStreamArn",
  "reservedConcurrency",
  "memorySize",
  "plaintextRetentionDays",
  "quarantineRetentionDays",
  "rawRetentionDays",
  "rawObjectLockMode",
  "rawObjectLockDays",
  "objectEvents",
  "streamSilenceMinutes",
  "alarmTopicArn",
  "securityLakeBucket",
  "securityLakeSource",
  "securityLakeRoleArn",
  "securityLakeExternalId",
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

/**
 * A stage's parameters may also live in params/<stage>.json beside serverless.yml, as `das-decrypt
 * setup` writes them from the database's own description: the preflight plugin adds them under
 * params.<stage> before anything reads a parameter, and provider.region reads its "region".
 */
function stageFile(stage) {
  return `params/${stage}.json`;
}

const STAGE_FILE_KEYS = ["region", "database", "params"];
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * Reads the text of a stage file, {"region": "<the database's region>", "database": "<its ARN>",
 * "params": {"<parameter>": <value>, …}} (each part optional). Returns its region and database (""
 * when absent), its parameters (strings, numbers or booleans, as written) and one "<file> …" line
 * per problem; `known` lists the parameter names there are.
 */
function parseStageFile(text, file, known) {
  const problems = [];
  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  let content;
  try {
    content = JSON.parse(text);
  } catch (error) {
    content = null;
    problems.push(`${file} is not JSON (${error.message})`);
  }
  if (!isObject(content)) {
    if (problems.length === 0) {
      problems.push(`${file} must hold a JSON object like {"region": "…", "params": {"dasResourceId": "…"}}`);
    }
    return { region: "", database: "", params: {}, problems };
  }
  for (const key of Object.keys(content)) {
    if (!STAGE_FILE_KEYS.includes(key)) {
      problems.push(
        `${file} has "${key}": only ${STAGE_FILE_KEYS.map((k) => `"${k}"`).join(", ")} belong there`,
      );
    }
  }
  let region = content.region ?? "";
  if (typeof region !== "string" || (region !== "" && !REGION.test(region))) {
    problems.push(`${file} has region ${JSON.stringify(region)}: an AWS region like "eu-west-1" is expected`);
    region = "";
  }
  let database = content.database ?? "";
  if (typeof database !== "string") {
    problems.push(`${file} has database ${JSON.stringify(database)}: the database's ARN is expected`);
    database = "";
  }
  let params = content.params ?? {};
  if (!isObject(params)) {
    problems.push(`${file} has "params" that is not an object of parameter names and values`);
    params = {};
  }
  for (const [name, value] of Object.entries(params)) {
    if (!known.includes(name)) {
      problems.push(`${file} sets "${name}", which is not a parameter of the stack`);
    } else if (!["string", "number", "boolean"].includes(typeof value)) {
      problems.push(
        `${file} sets ${name} to ${JSON.stringify(value)}: a string, number or boolean is expected`,
      );
    }
  }
  return { region, database, params, problems };
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
  // Overlap is only meaningful between well-formed prefixes ("" would overlap everything).
  if (problems.length > 0) return problems;
  const { rawPrefix, outputPrefix, quarantinePrefix } = params;
  if (quarantinePrefix.startsWith(outputPrefix) || outputPrefix.startsWith(quarantinePrefix)) {
    // The function refuses it at cold start (src/config/config.ts); each prefix also has its own expiry.
    problems.push(
      `Parameter quarantinePrefix must neither contain nor lie under outputPrefix "${outputPrefix}"`,
    );
  }
  // A locked stack writes its output to a bucket of its own (or the outputBucket given, never the raw one).
  const sameBucket =
    params.rawObjectLockMode === "" &&
    (params.outputBucket === "" || params.outputBucket === params.bucketName);
  if (!sameBucket) return problems;
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
 * Where the plaintext output, quarantine and Athena results go: a bucket the stack creates (the raw
 * bucket, or with Object Lock a second one) or a bucket of someone else's, whose lifecycle the stack
 * cannot set. `bucketName` is the raw bucket's name ("" while the stack has yet to name it).
 */
function outputPlacement(params, bucketName) {
  const locked = params.rawObjectLockMode !== "";
  if (params.outputBucket !== "" && params.outputBucket !== bucketName) {
    return { bucket: params.outputBucket, ofStack: false, separate: true };
  }
  if (locked) return { bucket: `${bucketName}${OUTPUT_BUCKET_SUFFIX}`, ofStack: true, separate: true };
  return { bucket: bucketName, ofStack: params.existingBucket !== "true", separate: false };
}

/** The name of the bucket the stack creates when bucketName is empty. */
function generatedBucketName(stage, accountId, region) {
  return `das-decrypt-${stage}-${accountId}-${region}`;
}

/**
 * The problems that need the raw bucket's name: with bucketName given, checkParams finds them; when
 * the stack names its bucket after the account, the preflight plugin (and the stack, should a
 * parameter have been left to a later variable) once that name is known.
 */
function checkBucketNames(params, bucketName) {
  if (params.rawObjectLockMode === "") return [];
  if (params.outputBucket === bucketName) {
    return [
      `Parameter outputBucket must not be the locked bucket "${bucketName}": the plaintext would stay as long as the raw objects`,
    ];
  }
  if (params.outputBucket === "" && bucketName.length + OUTPUT_BUCKET_SUFFIX.length > BUCKET_NAME_MAX) {
    return [
      `Parameter outputBucket is required with rawObjectLockMode when the bucket name "${bucketName}" is longer than ${BUCKET_NAME_MAX - OUTPUT_BUCKET_SUFFIX.length} characters (the stack would name its output bucket "<bucket name>${OUTPUT_BUCKET_SUFFIX}")`,
    ];
  }
  return [];
}

/** Lifecycle and Object Lock: whole days, a lock only on a bucket the stack creates, and no expiry it could not apply. */
function checkRetention(params) {
  const problems = [];
  const days = (name, empty) => {
    if (params[name] !== "" && !POSITIVE_INTEGER.test(params[name])) {
      problems.push(`Parameter ${name} must be a whole number of days from 1${empty}, got "${params[name]}"`);
      return false;
    }
    return params[name] !== "";
  };
  days("plaintextRetentionDays", `, or empty for ${OUTPUT_RETENTION_DAYS}`);
  days("quarantineRetentionDays", `, or empty for ${OUTPUT_RETENTION_DAYS}`);
  const rawDays = days("rawRetentionDays", ", or empty to keep raw objects");
  const existing = params.existingBucket === "true";
  if (rawDays && existing) {
    problems.push(
      "Parameter rawRetentionDays cannot apply when existingBucket is true: the bucket's owner sets its lifecycle",
    );
  }

  const mode = params.rawObjectLockMode;
  if (mode === "") {
    if (params.rawObjectLockDays !== "") {
      problems.push('Parameter rawObjectLockDays needs rawObjectLockMode ("GOVERNANCE" or "COMPLIANCE")');
    }
  } else {
    if (!LOCK_MODES.includes(mode)) {
      problems.push(
        `Parameter rawObjectLockMode must be "GOVERNANCE" or "COMPLIANCE", or empty for no lock, got "${mode}"`,
      );
    }
    if (params.rawObjectLockDays === "") {
      problems.push(
        "Parameter rawObjectLockDays is required with rawObjectLockMode: the days each raw object stays locked",
      );
    } else if (days("rawObjectLockDays", "") && rawDays) {
      if (Number(params.rawRetentionDays) < Number(params.rawObjectLockDays)) {
        problems.push(
          `Parameter rawRetentionDays must be at least rawObjectLockDays (${params.rawObjectLockDays}): a locked object cannot expire, got "${params.rawRetentionDays}"`,
        );
      }
    }
    if (existing) {
      problems.push(
        "Parameter rawObjectLockMode cannot apply when existingBucket is true: Object Lock is set when the stack creates its bucket",
      );
    }
  }

  // Only a bucket the stack creates gets its lifecycle; an explicit expiry elsewhere would be a promise not kept.
  const output = outputPlacement(params, params.bucketName);
  if (!output.ofStack && output.bucket !== "") {
    for (const name of ["plaintextRetentionDays", "quarantineRetentionDays"]) {
      if (params[name] !== "") {
        problems.push(
          `Parameter ${name} cannot apply: the output goes to bucket "${output.bucket}", which the stack does not create (its owner sets its lifecycle)`,
        );
      }
    }
  }
  if (params.bucketName !== "" && !existing) problems.push(...checkBucketNames(params, params.bucketName));
  return problems;
}

/** The silence alarm's window (whole minutes a day at most, longer than Firehose's buffer) and the alarms' topic. */
function checkAlarms(params) {
  const problems = [];
  const minutes = params.streamSilenceMinutes;
  if (!POSITIVE_INTEGER.test(minutes) || Number(minutes) > SILENCE_MINUTES_MAX) {
    problems.push(
      `Parameter streamSilenceMinutes must be a whole number of minutes from 1 to ${SILENCE_MINUTES_MAX} (a CloudWatch alarm looks back a day at most), got "${minutes}"`,
    );
  } else if (params.dasKinesisStreamArn !== "" && Number(minutes) < FIREHOSE_SILENCE_MINUTES_MIN) {
    problems.push(
      `Parameter streamSilenceMinutes must be at least ${FIREHOSE_SILENCE_MINUTES_MIN} with dasKinesisStreamArn: the stack's Firehose stream buffers ${FIREHOSE_BUFFER_SECONDS} s, so objects arrive only every ${FIREHOSE_BUFFER_SECONDS / 60} minutes on a quiet stream, got "${minutes}"`,
    );
  }
  if (params.alarmTopicArn !== "" && !SNS_TOPIC_ARN.test(params.alarmTopicArn)) {
    problems.push(
      `Parameter alarmTopicArn must be the ARN of an SNS topic (arn:aws:sns:<region>:<account>:<name>), or empty for none, got "${params.alarmTopicArn}"`,
    );
  }
  return problems;
}

/** Whether S3 would accept `name` for a general purpose bucket. */
function isBucketName(name) {
  return (
    BUCKET_NAME.test(name) &&
    !name.includes("..") &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !RESERVED_BUCKET_PREFIXES.some((prefix) => name.startsWith(prefix)) &&
    !RESERVED_BUCKET_SUFFIXES.some((suffix) => name.endsWith(suffix))
  );
}

/**
 * The Security Lake output: a bucket name, the custom source's name, the provider role and its
 * external id as the function and STS accept them. Each parameter gets one line at most: what is
 * wrong with its value, else what it needs (the others mean nothing without the bucket, the
 * external id nothing without the role).
 */
function checkSecurityLake(params) {
  const problems = [];
  const bucket = params.securityLakeBucket;
  const {
    securityLakeSource: source,
    securityLakeRoleArn: role,
    securityLakeExternalId: externalId,
  } = params;
  if (bucket !== "" && !isBucketName(bucket)) {
    problems.push(
      `Parameter securityLakeBucket must be the name of the Security Lake bucket (an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, not an IP address), or empty for no Security Lake output, got "${bucket}"`,
    );
  }
  const needsBucket = (name) =>
    `Parameter ${name} needs securityLakeBucket: without it nothing is written to Security Lake`;
  if (source !== "" && !SECURITY_LAKE_SOURCE_NAME.test(source)) {
    problems.push(
      `Parameter securityLakeSource must be the custom source's name as registered in Security Lake (1 to 64 letters, digits, - and _), or empty for ${SECURITY_LAKE_SOURCE}, got "${source}"`,
    );
  } else if (source !== "" && bucket === "") {
    problems.push(needsBucket("securityLakeSource"));
  }
  if (role !== "" && !IAM_ROLE_ARN.test(role)) {
    problems.push(
      `Parameter securityLakeRoleArn must be the ARN of the provider role Security Lake made for the source (arn:aws:iam::<account>:role/AmazonSecurityLake-Provider-<source>-<region>), or empty to write with the function's role, got "${role}"`,
    );
  } else if (role !== "" && bucket === "") {
    problems.push(needsBucket("securityLakeRoleArn"));
  }
  if (externalId !== "" && !EXTERNAL_ID.test(externalId)) {
    problems.push(
      `Parameter securityLakeExternalId must be the source's external id, 2 to 1224 letters, digits and any of _+=,.@:/- (as STS accepts it), got "${externalId}"`,
    );
  } else if (externalId !== "" && bucket === "") {
    problems.push(needsBucket("securityLakeExternalId"));
  } else if (externalId !== "" && role === "") {
    problems.push(
      "Parameter securityLakeExternalId needs securityLakeRoleArn: it is sent only when the function assumes the provider role",
    );
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
  if (params.redactSqlLiterals !== "") oneOf("redactSqlLiterals", ["true", "false"]);
  problems.push(...checkPrefixes(params));
  if (Number.isNaN(memorySizeOf(params.memorySize))) {
    problems.push(
      `Parameter memorySize must be the function's memory in MB, a whole number from ${MEMORY_MB.min} to ${MEMORY_MB.max} (1769: one vCPU, 3538: two), got "${params.memorySize}"`,
    );
  }
  if (params.reservedConcurrency !== "" && !POSITIVE_INTEGER.test(params.reservedConcurrency)) {
    // 0 would be accepted by Lambda and stop the function altogether.
    problems.push(
      `Parameter reservedConcurrency must be a whole number from 1, or empty for none reserved, got "${params.reservedConcurrency}"`,
    );
  }
  problems.push(...checkRetention(params));
  oneOf("objectEvents", ["true", "false"]);
  problems.push(...checkAlarms(params));
  problems.push(...checkSecurityLake(params));
  return problems;
}

const sub = (text) => ({ "Fn::Sub": text });

/** Lambda's memory limits, in MB, and the function's default (one vCPU, the cheapest per record). */
const MEMORY_MB = { min: 128, max: 10240, default: 1769 };

/** The exec wrapper Lambda runs node through: functions/node-flags.sh under the task root. */
const EXEC_WRAPPER = "/var/task/functions/node-flags.sh";

/** The old generation's floor: V8's own size at 256 MB of memory, twice what the function keeps live. */
const MIN_OLD_SPACE_MB = 128;

/**
 * Node's options in the function of `memorySize` MB (BENCHMARKS.md, "Memory"; the benchmark runs the
 * bundle with these same options):
 * - --max-semi-space-size=8 (MiB) keeps V8's young generation at its starting size: left to grow,
 *   it doubles a few seconds into a large object, and external memory that survived a few young
 *   collections waits for a full one, so peak memory would grow with the object's size.
 * - --max-old-space-size: a quarter of the function's memory (at least MIN_OLD_SPACE_MB) for each
 *   thread's old generation, the handler's and each decryption worker's. Left to V8, it follows
 *   the memory the machine reports (half of it, up to 4 GB), and a larger old generation lets
 *   V8 wait longer between full collections (up to 4 times what the last one kept, from 2 GB).
 *   Set here, it is the same in Lambda as in the benchmark. With the Security Lake output, whose
 *   rows are garbage that outlives the young generation, the 1.1 GB object peaked at 345 MB on a
 *   machine where V8 chose 4 GB, and at 208 MB with 442 MB (1769 MB of memory); what the function
 *   keeps live fits in 60 MB (a 312 MB object went through with two workers under a 60 MB cap).
 */
function nodeOptions(memorySize = MEMORY_MB.default) {
  const oldSpace = Math.max(MIN_OLD_SPACE_MB, Math.floor(memorySize / 4));
  return `--enable-source-maps --max-semi-space-size=8 --max-old-space-size=${oldSpace}`;
}

/**
 * glibc's malloc in a function with decryption workers (3538 MB and more: DECRYPT_WORKERS=auto
 * starts one per vCPU), read by glibc as node starts (BENCHMARKS.md, "glibc's mmap threshold").
 * Blocks of 128 KiB or more (record batches and their decrypted lines, moved from thread to thread;
 * upload parts) get pages of their own, given back to the system when freed. Left to glibc, the
 * threshold rises to the size of each such block freed (up to 32 MiB); later blocks then come from
 * the threads' heaps, where freed space stays in RSS: with two workers and the Security Lake output
 * the process grew all through the 1.1 GB object, to 263 MB against 237 with this. Not set below:
 * when the handler's thread decrypts itself it cost 15-30 % more CPU a record, for 10 MB.
 */
const MALLOC_ENVIRONMENT = { MALLOC_MMAP_THRESHOLD_: "131072" };

/** The memory from which the function has decryption workers: two vCPUs. */
const WORKERS_FROM_MB = 2 * 1769;

/** The environment node runs with in the function of `memorySize` MB: its options, then glibc's. */
function runtimeEnvironment(memorySize = MEMORY_MB.default) {
  return {
    NODE_OPTIONS: nodeOptions(memorySize),
    ...(memorySize >= WORKERS_FROM_MB ? MALLOC_ENVIRONMENT : {}),
  };
}

/** The function's memory in MB: the memorySize parameter, else the default; NaN when it is not one. */
function memorySizeOf(value) {
  const text = String(value ?? "").trim();
  if (text === "") return MEMORY_MB.default;
  const mb = POSITIVE_INTEGER.test(text) ? Number(text) : Number.NaN;
  return mb >= MEMORY_MB.min && mb <= MEMORY_MB.max ? mb : Number.NaN;
}

module.exports = async ({ resolveVariable }) => {
  const params = await readParams((name) => resolveVariable(`param:${name}, ""`));
  const problems = checkParams(params);
  if (problems.length > 0) throw new ParameterError(problems);
  const existing = params.existingBucket === "true";
  const ids = resourceIds(params).byContext;
  const stage = await resolveVariable("sls:stage");
  // Each stage's metrics (and so its silence alarm) are its own: the service is their dimension.
  const serviceName = `das-decrypt-${stage}`;
  const bucketName =
    params.bucketName !== ""
      ? params.bucketName
      : generatedBucketName(
          stage,
          await resolveVariable("aws:accountId"),
          await resolveVariable("aws:region"),
        );
  if (params.bucketName === "" && !existing) {
    const nameProblems = checkBucketNames(params, bucketName);
    if (nameProblems.length > 0) throw new ParameterError(nameProblems);
  }
  const output = outputPlacement(params, bucketName);
  const outputBucket = output.bucket;
  const outputKeyArn =
    params.outputKmsKeyArn !== "" ? params.outputKmsKeyArn : { "Fn::GetAtt": ["OutputEncryptionKey", "Arn"] };
  const s3Arn = (bucket, prefix) => sub(`arn:\${AWS::Partition}:s3:::${bucket}/${prefix}*`);

  const hashing = params.redactParams === "hash";
  const publishing = params.objectEvents === "true";
  const lake = securityLakeOf(params);
  const environment = {
    ...runtimeEnvironment(memorySizeOf(params.memorySize)),
    // Lambda's bootstrap gives node heap sizes of its own on the command line, which win over
    // NODE_OPTIONS; this wrapper, in the package, drops them (functions/node-flags.sh).
    AWS_LAMBDA_EXEC_WRAPPER: EXEC_WRAPPER,
    ...(params.dasResourceId !== "" ? { DAS_RESOURCE_ID: params.dasResourceId } : {}),
    ...(params.dasResourceIdMap !== "" ? { DAS_RESOURCE_ID_MAP: params.dasResourceIdMap } : {}),
    ...(params.outputBucket !== "" || output.separate ? { OUTPUT_BUCKET: outputBucket } : {}),
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
    ...(params.redactSqlLiterals === "true" ? { REDACT_SQL_LITERALS: "true" } : {}),
    OUTPUT_KMS_KEY_ID: outputKeyArn,
    ...(publishing ? { PUBLISH_OBJECT_EVENTS: "true" } : {}),
    ...(lake === undefined ? {} : securityLakeEnvironment(lake)),
    POWERTOOLS_SERVICE_NAME: serviceName,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
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
    ...(publishing ? [publishObjectEventsStatement()] : []),
    ...(lake === undefined ? [] : [securityLakeStatement(lake)]),
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

  const alarmActions = params.alarmTopicArn === "" ? [] : [params.alarmTopicArn];
  const Resources = {
    ...failureResources(alarmActions),
    ...silenceAlarmResources(Number(params.streamSilenceMinutes), serviceName, alarmActions),
    ...(params.outputKmsKeyArn === "" ? outputKeyResources() : {}),
    ...(hashing ? paramHashKeyResources() : {}),
    ...(existing ? {} : bucketResources(bucketName, params, outputKeyArn)),
    ...(output.separate && output.ofStack ? outputBucketResources(outputBucket, params, outputKeyArn) : {}),
    ...(params.dasKinesisStreamArn !== "" ? firehoseResources(bucketName, params, outputKeyArn) : {}),
  };
  const Outputs = {
    DasBucketName: { Value: bucketName },
    OutputBucketName: { Value: outputBucket },
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

/** The Security Lake output the parameters ask for (source defaulted), or undefined without a bucket. */
function securityLakeOf(params) {
  if (params.securityLakeBucket === "") return undefined;
  return {
    bucket: params.securityLakeBucket,
    source: params.securityLakeSource || SECURITY_LAKE_SOURCE,
    roleArn: params.securityLakeRoleArn,
    externalId: params.securityLakeExternalId,
  };
}

/** SECURITY_LAKE_*: the keys name the stack's own account (and Lambda's AWS_REGION). */
function securityLakeEnvironment(lake) {
  return {
    SECURITY_LAKE_BUCKET: lake.bucket,
    SECURITY_LAKE_SOURCE: lake.source,
    SECURITY_LAKE_ACCOUNT_ID: { Ref: "AWS::AccountId" },
    ...(lake.roleArn === "" ? {} : { SECURITY_LAKE_ROLE_ARN: lake.roleArn }),
    ...(lake.externalId === "" ? {} : { SECURITY_LAKE_EXTERNAL_ID: lake.externalId }),
  };
}

/**
 * How the function may write its Parquet files. Through the provider role: AssumeRole of that role
 * only (with its external id, when there is one), and nothing on the lake bucket itself, which the
 * role's own policy governs. Without one: new objects under the source's prefix only, written
 * without SSE headers (the lake bucket's default encryption applies), and the abort of an upload
 * that failed; no read, no delete, no tagging.
 */
function securityLakeStatement(lake) {
  if (lake.roleArn !== "") {
    return {
      Sid: "AssumeSecurityLakeProviderRole",
      Effect: "Allow",
      Action: ["sts:AssumeRole"],
      Resource: [lake.roleArn],
      ...(lake.externalId === ""
        ? {}
        : { Condition: { StringEquals: { "sts:ExternalId": lake.externalId } } }),
    };
  }
  return {
    Sid: "WriteSecurityLakeFiles",
    Effect: "Allow",
    Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
    Resource: [sub(`arn:\${AWS::Partition}:s3:::${lake.bucket}/ext/${lake.source}/*`)],
  };
}

/**
 * PutEvents of "DAS Object Decrypted" events from das-decrypt on the account's default bus, and no
 * other. events:source and events:detail-type are multivalued keys (ArrayOfString in the Service
 * Authorization Reference: one value per entry of the call), so they need a set operator: every
 * entry must be das-decrypt's event. ForAllValues alone would also hold for a request without the
 * keys, hence the Null guard.
 */
function publishObjectEventsStatement() {
  return {
    Sid: "PublishObjectEvents",
    Effect: "Allow",
    Action: ["events:PutEvents"],
    Resource: [sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default")],
    Condition: {
      "ForAllValues:StringEquals": {
        "events:source": OBJECT_EVENT_SOURCE,
        "events:detail-type": OBJECT_EVENT_DETAIL_TYPE,
      },
      Null: { "events:source": "false", "events:detail-type": "false" },
    },
  };
}

/** AlarmActions (and OKActions, for an alarm whose all-clear matters) when there is a topic to notify. */
function notifications(actions, withOk) {
  if (actions.length === 0) return {};
  return { AlarmActions: actions, ...(withOk ? { OKActions: actions } : {}) };
}

/**
 * The alarm that fires when no object was decrypted for `minutes`: the function's ObjectsDecrypted
 * metric (1 per object) summed per period, every period of the window below 1 or missing. 5-minute
 * periods when the window is made of them, else 1-minute ones.
 */
function silenceAlarmResources(minutes, serviceName, actions) {
  const period = minutes % 5 === 0 ? 300 : 60;
  return {
    StreamSilenceAlarm: {
      Type: "AWS::CloudWatch::Alarm",
      Properties: {
        AlarmDescription: `${serviceName} decrypted no object for ${minutes} minutes. A started activity stream writes a heartbeat at least every 2 seconds, so a live stream always produces objects: the stream, its Firehose delivery, the S3 notification or the function has stopped.`,
        Namespace: METRICS_NAMESPACE,
        MetricName: "ObjectsDecrypted",
        Dimensions: [{ Name: "service", Value: serviceName }],
        Statistic: "Sum",
        Period: period,
        EvaluationPeriods: (minutes * 60) / period,
        Threshold: 1,
        ComparisonOperator: "LessThanThreshold",
        // No metric at all is the silence this alarm is for.
        TreatMissingData: "breaching",
        ...notifications(actions, true),
      },
    },
  };
}

function failureResources(actions) {
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
        ...notifications(actions, false),
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
    OutputEncryptionKey: {
      ...accountAdministeredKey({
        Description: "Encrypts das-decrypt's plaintext audit output at rest",
        EnableKeyRotation: true,
      }),
      // The buckets outlive the stack (and a lock may keep raw objects for years): so does their key.
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    },
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

const ABORT_INCOMPLETE_UPLOADS = {
  Id: "AbortIncompleteMultipartUploads",
  Status: "Enabled",
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
};

/** The lifecycle of the plaintext: output, quarantine and Athena results, in the bucket that holds them. */
function outputLifecycleRules(params) {
  const days = (name) => Number(params[name] || OUTPUT_RETENTION_DAYS);
  return [
    // Athena query results hold plaintext audit data too; they are not kept past a month.
    { Id: "ExpireAthenaResults", Status: "Enabled", Prefix: "athena-results/", ExpirationInDays: 30 },
    // `reprocess` regenerates expired output from the raw objects, for as long as those are kept.
    {
      Id: "ExpireDecryptedOutput",
      Status: "Enabled",
      Prefix: params.outputPrefix,
      ExpirationInDays: days("plaintextRetentionDays"),
    },
    {
      Id: "ExpireQuarantinedRecords",
      Status: "Enabled",
      Prefix: params.quarantinePrefix,
      ExpirationInDays: days("quarantineRetentionDays"),
    },
  ];
}

/**
 * The lifecycle of the raw objects. In the versioned (locked) bucket an expiry only hides the object
 * behind a delete marker: the version it leaves behind, or any other deleted one, goes a day later
 * (S3 keeps a locked version until its lock ends), then the delete marker left alone.
 */
function rawLifecycleRules(params, versioned) {
  return [
    ...(params.rawRetentionDays === ""
      ? []
      : [
          {
            Id: "ExpireRawObjects",
            Status: "Enabled",
            Prefix: params.rawPrefix,
            ExpirationInDays: Number(params.rawRetentionDays),
          },
        ]),
    ...(versioned
      ? [
          {
            Id: "RemoveDeletedVersions",
            Status: "Enabled",
            NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            ExpiredObjectDeleteMarker: true,
          },
        ]
      : []),
  ];
}

/** A bucket of the stack: SSE-KMS under the output key, no public access, no ACLs, kept when the stack goes. */
function hardenedBucket(bucketName, outputKeyArn, rules, properties = {}) {
  return {
    Type: "AWS::S3::Bucket",
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
      LifecycleConfiguration: { Rules: [ABORT_INCOMPLETE_UPLOADS, ...rules] },
      ...properties,
    },
  };
}

/** TLS only; where the plaintext is written, SSE-KMS under the output key only. */
function bucketPolicy(bucketId, bucketName, params, outputKeyArn, holdsOutput) {
  const objectsArn = (prefix) => sub(`arn:\${AWS::Partition}:s3:::${bucketName}/${prefix}*`);
  const outputObjects = [objectsArn(params.outputPrefix), objectsArn(params.quarantinePrefix)];
  const denyOutputWriteUnless = (Sid, header, value) => ({
    Sid,
    Effect: "Deny",
    Principal: "*",
    Action: "s3:PutObject",
    Resource: outputObjects,
    Condition: { Null: { [header]: "false" }, StringNotEquals: { [header]: value } },
  });
  return {
    Type: "AWS::S3::BucketPolicy",
    Properties: {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [sub(`arn:\${AWS::Partition}:s3:::${bucketName}`), objectsArn("")],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
          ...(holdsOutput
            ? [
                // Plaintext is never stored without SSE-KMS: a write that asks for other encryption, or
                // for another KMS key than the output's, is refused; one that asks for none gets the
                // bucket's default (SSE-KMS under the output key). UploadPart and
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
                  Resource: outputObjects,
                  Condition: {
                    StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
                    Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" },
                  },
                },
              ]
            : []),
        ],
      },
    },
  };
}

/**
 * The bucket Firehose writes to, notifying the function. With rawObjectLockMode it is created with
 * Object Lock, whose default retention locks every new version in it: the plaintext then goes to a
 * bucket of its own (outputBucketResources), never to this one (checkBucketNames).
 */
function bucketResources(bucketName, params, outputKeyArn) {
  const locked = params.rawObjectLockMode !== "";
  const holdsOutput = outputPlacement(params, bucketName).bucket === bucketName;
  return {
    DecryptS3InvokePermission: {
      Type: "AWS::Lambda::Permission",
      Properties: {
        FunctionName: { "Fn::GetAtt": ["DecryptLambdaFunction", "Arn"] },
        Action: "lambda:InvokeFunction",
        Principal: "s3.amazonaws.com",
        SourceAccount: { Ref: "AWS::AccountId" },
        SourceArn: sub(`arn:\${AWS::Partition}:s3:::${bucketName}`),
      },
    },
    DasBucket: {
      ...hardenedBucket(
        bucketName,
        outputKeyArn,
        [...(holdsOutput ? outputLifecycleRules(params) : []), ...rawLifecycleRules(params, locked)],
        {
          ...(locked
            ? {
                // Object Lock needs versioning, and can only be chosen when the bucket is created.
                ObjectLockEnabled: true,
                ObjectLockConfiguration: {
                  ObjectLockEnabled: "Enabled",
                  Rule: {
                    DefaultRetention: {
                      Mode: params.rawObjectLockMode,
                      Days: Number(params.rawObjectLockDays),
                    },
                  },
                },
                VersioningConfiguration: { Status: "Enabled" },
              }
            : {}),
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
      ),
      DependsOn: ["DecryptS3InvokePermission"],
    },
    DasBucketPolicy: bucketPolicy("DasBucket", bucketName, params, outputKeyArn, holdsOutput),
  };
}

/** The plaintext's bucket of a locked stack: unversioned and unlocked, so its lifecycle removes what expires. */
function outputBucketResources(outputBucket, params, outputKeyArn) {
  return {
    DasOutputBucket: hardenedBucket(outputBucket, outputKeyArn, outputLifecycleRules(params)),
    DasOutputBucketPolicy: bucketPolicy("DasOutputBucket", outputBucket, params, outputKeyArn, true),
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
          BufferingHints: { SizeInMBs: 64, IntervalInSeconds: FIREHOSE_BUFFER_SECONDS },
        },
      },
    },
  };
}

module.exports.nodeOptions = nodeOptions;
module.exports.runtimeEnvironment = runtimeEnvironment;
module.exports.readParams = readParams;
module.exports.checkParams = checkParams;
module.exports.checkBucketNames = checkBucketNames;
module.exports.generatedBucketName = generatedBucketName;
module.exports.describeProblems = describeProblems;
module.exports.ParameterError = ParameterError;
module.exports.PARAM_NAMES = PARAM_NAMES;
module.exports.stageFile = stageFile;
module.exports.parseStageFile = parseStageFile;
