import { availableParallelism } from "node:os";
import { parseResourceId, type ResourceId } from "../decrypt/resource-id.ts";
import type { EventPolicy } from "../policy/event-policy.ts";
import { ConfigError } from "./errors.ts";

export type OutputFormat = "events" | "records";
export type OutputCompression = "gzip" | "none";

/** Everything the function needs to know, parsed and validated once at cold start. */
/** Where one deployment's OCSF rows go: an Amazon Security Lake custom source. */
export interface SecurityLakeTarget {
  readonly bucket: string;
  /** The custom source's name, as registered in Security Lake. */
  readonly source: string;
  readonly region: string;
  readonly accountId: string;
  /**
   * The role Security Lake made for this custom source's provider (`AmazonSecurityLake-Provider-…`),
   * assumed to write; unset, the function's own role writes.
   */
  readonly roleArn?: string;
  /** The external id the custom source was registered with (the role's trust condition). */
  readonly externalId?: string;
}

export interface Config {
  /** Resource id used when no prefix of the map matches the source key. */
  readonly resourceId: ResourceId | undefined;
  /** Source key prefix → resource id, longest prefix first. */
  readonly resourceIdMap: readonly (readonly [prefix: string, id: ResourceId])[];
  /** Output bucket; `undefined` means the source object's own bucket. */
  readonly outputBucket: string | undefined;
  readonly outputPrefix: string;
  readonly outputFormat: OutputFormat;
  readonly outputCompression: OutputCompression;
  readonly includeHeartbeats: boolean;
  /** Publish a "DAS Object Decrypted" event to the default EventBridge bus for each object decrypted. */
  readonly publishObjectEvents: boolean;
  readonly s3ForcePathStyle: boolean;
  /** Worker threads that decrypt; 0 decrypts in the handler's own thread. */
  readonly decryptWorkers: number;
  /** Records per decryption batch (one thread hop and one data key lookup per batch). */
  readonly decryptBatchRecords: number;
  /** Plaintext data keys kept in memory, across objects of one warm container. */
  readonly dataKeyCacheSize: number;
  /** How long a cached data key may be reused, in milliseconds. */
  readonly dataKeyCacheTtlMs: number;
  /** Largest accepted raw record (the outer JSON), in bytes. */
  readonly maxRecordBytes: number;
  /** Multipart upload part size, in bytes. */
  readonly uploadPartBytes: number;
  /** Parts uploaded at the same time. */
  readonly uploadQueueSize: number;
  /** Quarantine key = this + source key (a trailing `.gz` dropped); same bucket as the output. */
  readonly quarantinePrefix: string;
  /**
   * KMS key the output and quarantine objects are encrypted under (SSE-KMS, requested on every
   * write so plaintext is protected even in a bucket without default encryption); `undefined`
   * leaves encryption to the bucket's default.
   */
  readonly outputKmsKeyId: string | undefined;
  /** Bad records one object may quarantine; past this the whole object fails. */
  readonly maxQuarantinedRecords: number;
  /** CloudWatch namespace of the embedded-metric-format metrics. */
  readonly metricsNamespace: string;
  /** The `service` of the log lines and the metrics' dimension (the stack names it per stage). */
  readonly serviceName: string;
  /** Also write each object's events as OCSF rows in Parquet to this Amazon Security Lake custom source. */
  readonly securityLake: SecurityLakeTarget | undefined;
  /** Noise filters and redaction applied to every event written. */
  readonly eventPolicy: EventPolicy;
  /** The KMS HMAC key the `REDACT_PARAMS=hash` key is derived from (set exactly when hashing). */
  readonly paramHashKeyId: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the function's configuration from environment variables.
 * @throws ConfigError naming the variable when a value is missing or malformed.
 */
export function loadConfig(env: Env): Config {
  const resourceId = optional(env, "DAS_RESOURCE_ID", (raw) => parseResourceId(raw, "DAS_RESOURCE_ID"));
  const resourceIdMap = optional(env, "DAS_RESOURCE_ID_MAP", parseResourceIdMap) ?? [];
  if (resourceId === undefined && resourceIdMap.length === 0) {
    throw new ConfigError(
      "DAS_RESOURCE_ID",
      "is required (a cluster-… or db-… resource id) unless DAS_RESOURCE_ID_MAP is set",
    );
  }
  const outputBucket = optional(env, "OUTPUT_BUCKET", (raw) => raw);
  const outputPrefix = env.OUTPUT_PREFIX ?? "decrypted/";
  if (outputPrefix === "" && outputBucket === undefined) {
    throw new ConfigError(
      "OUTPUT_PREFIX",
      "must not be empty when OUTPUT_BUCKET is not set (it would overwrite the source)",
    );
  }
  const quarantinePrefix = env.QUARANTINE_PREFIX ?? "quarantine/";
  const overlaps =
    outputPrefix !== "" &&
    (quarantinePrefix.startsWith(outputPrefix) || outputPrefix.startsWith(quarantinePrefix));
  if (quarantinePrefix === "" || overlaps) {
    throw new ConfigError(
      "QUARANTINE_PREFIX",
      `must be non-empty and must neither contain nor lie under OUTPUT_PREFIX (got "${quarantinePrefix}")`,
    );
  }
  const paramHashKeyId = optional(env, "PARAM_HASH_KEY_ID", (raw) => raw);
  if ((env.REDACT_PARAMS ?? "").trim().toLowerCase() === "hash" && paramHashKeyId === undefined) {
    throw new ConfigError(
      "PARAM_HASH_KEY_ID",
      "is required with REDACT_PARAMS=hash: the KMS HMAC_256 key the hash key is derived from",
    );
  }
  return Object.freeze({
    securityLake: securityLakeTarget(env),
    resourceId,
    resourceIdMap: Object.freeze(resourceIdMap),
    paramHashKeyId,
    outputBucket,
    outputPrefix,
    outputFormat: oneOf(env, "OUTPUT_FORMAT", ["events", "records"] as const, "events"),
    outputCompression: oneOf(env, "OUTPUT_COMPRESSION", ["gzip", "none"] as const, "gzip"),
    includeHeartbeats: bool(env, "INCLUDE_HEARTBEATS", false),
    publishObjectEvents: bool(env, "PUBLISH_OBJECT_EVENTS", false),
    s3ForcePathStyle: bool(env, "S3_FORCE_PATH_STYLE", false),
    decryptWorkers: decryptWorkers(env),
    decryptBatchRecords: int(env, "DECRYPT_BATCH_RECORDS", 256, 1, 10_000),
    dataKeyCacheSize: int(env, "DATA_KEY_CACHE_SIZE", 1000, 1, 100_000),
    dataKeyCacheTtlMs: int(env, "DATA_KEY_CACHE_TTL_SECONDS", 300, 1, 86_400) * 1000,
    maxRecordBytes: int(env, "MAX_RECORD_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    uploadPartBytes: int(env, "UPLOAD_PART_SIZE_MB", 5, 5, 512) * 1024 * 1024,
    uploadQueueSize: int(env, "UPLOAD_QUEUE_SIZE", 2, 1, 16),
    quarantinePrefix,
    maxQuarantinedRecords: int(env, "MAX_QUARANTINED_RECORDS", 1000, 0, 1_000_000),
    metricsNamespace: optional(env, "POWERTOOLS_METRICS_NAMESPACE", (raw) => raw) ?? "DasDecrypt",
    serviceName: optional(env, "POWERTOOLS_SERVICE_NAME", (raw) => raw) ?? "das-decrypt",
    outputKmsKeyId: optional(env, "OUTPUT_KMS_KEY_ID", (raw) => raw),
    eventPolicy: Object.freeze({
      excludeUsers: list(env, "EXCLUDE_USERS", (item) => item.toLowerCase()),
      excludeDatabases: list(env, "EXCLUDE_DATABASES", (item) => item.toLowerCase()),
      excludeCommands: list(env, "EXCLUDE_COMMANDS", (item) => item.toLowerCase()),
      redactParams: oneOf(env, "REDACT_PARAMS", ["keep", "drop", "hash"] as const, "keep"),
      redactFields: list(env, "REDACT_FIELDS", (item) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(item)) {
          throw new ConfigError("REDACT_FIELDS", `must name fields (letters, digits, _), got "${item}"`);
        }
        return item;
      }),
      redactSqlLiterals: bool(env, "REDACT_SQL_LITERALS", false),
    }),
  });
}

/**
 * `SECURITY_LAKE_BUCKET` with the source name (`SECURITY_LAKE_SOURCE`, default `das-decrypt`), the
 * account (`SECURITY_LAKE_ACCOUNT_ID`) and the region (`AWS_REGION`, which Lambda sets) its keys name.
 */
function securityLakeTarget(env: Env): SecurityLakeTarget | undefined {
  const bucket = optional(env, "SECURITY_LAKE_BUCKET", (raw) => raw);
  if (bucket === undefined) return undefined;
  const source = optional(env, "SECURITY_LAKE_SOURCE", (raw) => raw) ?? "das-decrypt";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(source)) {
    throw new ConfigError(
      "SECURITY_LAKE_SOURCE",
      `must be a custom source name of letters, digits, - and _ (at most 64), got "${source}"`,
    );
  }
  const accountId = optional(env, "SECURITY_LAKE_ACCOUNT_ID", (raw) => raw);
  if (accountId === undefined || !/^\d{12}$/.test(accountId)) {
    throw new ConfigError(
      "SECURITY_LAKE_ACCOUNT_ID",
      "must be the 12-digit account id the Security Lake keys name, with SECURITY_LAKE_BUCKET",
    );
  }
  const region = optional(env, "AWS_REGION", (raw) => raw);
  if (region === undefined) {
    throw new ConfigError(
      "AWS_REGION",
      "must name the region the Security Lake keys name, with SECURITY_LAKE_BUCKET",
    );
  }
  const roleArn = optional(env, "SECURITY_LAKE_ROLE_ARN", (raw) => raw);
  if (roleArn !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) {
    throw new ConfigError(
      "SECURITY_LAKE_ROLE_ARN",
      `must be an IAM role ARN (arn:aws:iam::<account>:role/…), got "${roleArn}"`,
    );
  }
  const externalId = optional(env, "SECURITY_LAKE_EXTERNAL_ID", (raw) => raw);
  if (externalId !== undefined && roleArn === undefined) {
    throw new ConfigError(
      "SECURITY_LAKE_EXTERNAL_ID",
      "is the external id of SECURITY_LAKE_ROLE_ARN, which is not set",
    );
  }
  return Object.freeze({
    bucket,
    source,
    accountId,
    region,
    ...(roleArn === undefined ? {} : { roleArn }),
    ...(externalId === undefined ? {} : { externalId }),
  });
}

/** A comma-separated list: entries trimmed, empty ones ignored, each passed through `parse`. */
function list(env: Env, name: string, parse: (item: string) => string): readonly string[] {
  const raw = optional(env, name, (value) => value) ?? "";
  return Object.freeze(
    raw
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "")
      .map(parse),
  );
}

/** Lambda gives one full vCPU per 1769 MB of memory. */
const MB_PER_VCPU = 1769;

/**
 * `DECRYPT_WORKERS`: a number of worker threads, or `auto` (the default): one per vCPU when there
 * are two or more, none with one (a worker would only add a thread hop). In Lambda the vCPUs follow
 * the memory setting (the CPU count the system reports does not); elsewhere, the CPUs this process
 * may run on.
 */
function decryptWorkers(env: Env): number {
  const raw = optional(env, "DECRYPT_WORKERS", (value) => value.toLowerCase());
  if (raw !== undefined && raw !== "auto") return int(env, "DECRYPT_WORKERS", 0, 0, 64);
  const cpus = availableParallelism();
  const memoryMb = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  const vcpus =
    Number.isFinite(memoryMb) && memoryMb > 0 ? Math.min(cpus, Math.floor(memoryMb / MB_PER_VCPU)) : cpus;
  return vcpus >= 2 ? vcpus : 0;
}

function optional<T>(env: Env, name: string, parse: (raw: string) => T): T | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === "" ? undefined : parse(raw);
}

function oneOf<const T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = optional(env, name, (value) => value.toLowerCase());
  if (raw === undefined) return fallback;
  const found = allowed.find((value) => value === raw);
  if (found === undefined) throw new ConfigError(name, `must be one of ${allowed.join(", ")} (got "${raw}")`);
  return found;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  return oneOf(env, name, ["true", "false"] as const, fallback ? "true" : "false") === "true";
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name, (value) => value);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function parseResourceIdMap(raw: string): [string, ResourceId][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      "DAS_RESOURCE_ID_MAP",
      'must be a JSON object like {"raw/cluster-a/": "cluster-…"}',
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(
      "DAS_RESOURCE_ID_MAP",
      'must be a JSON object like {"raw/cluster-a/": "cluster-…"}',
    );
  }
  const entries = Object.entries(parsed).map(([prefix, id]): [string, ResourceId] => {
    if (typeof id !== "string") {
      throw new ConfigError("DAS_RESOURCE_ID_MAP", `value for prefix "${prefix}" must be a string`);
    }
    return [prefix, parseResourceId(id, `DAS_RESOURCE_ID_MAP["${prefix}"]`)];
  });
  // Longest prefix first, so the first match is the most specific one.
  return entries.sort(([a], [b]) => b.length - a.length);
}
