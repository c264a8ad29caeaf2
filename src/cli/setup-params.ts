import { checkParams, PARAM_NAMES, parseStageFile } from "../../deploy/stack-config.cjs";
import { SetupError, type StreamDescription } from "./setup-database.ts";

/** A parameter's value as a stage file holds it. */
export type ParamValue = string | number | boolean;

/**
 * A stage's parameters file, params/<stage>.json: the database's region (provider.region reads it),
 * its ARN (for whoever reads the file) and the stack parameters. deploy/preflight-plugin.cjs adds
 * the parameters under params.<stage> when `serverless deploy --stage <stage>` starts.
 */
export interface StageFile {
  readonly region: string;
  readonly database: string;
  readonly params: Readonly<Record<string, ParamValue>>;
}

/** The names a stage file may set: those of serverless.yml's params.default. */
export const STAGE_PARAM_NAMES: readonly string[] = PARAM_NAMES;

/**
 * serverless.yml's params.default where it is not empty: what a parameter the file leaves out
 * deploys with, so the file is checked as the deploy will see it. (A test holds it to
 * serverless.yml.)
 */
export const DEFAULT_PARAMS: Readonly<Record<string, string>> = {
  existingBucket: "false",
  rawPrefix: "raw/",
  outputPrefix: "decrypted/",
  quarantinePrefix: "quarantine/",
  outputFormat: "events",
  outputCompression: "gzip",
  includeHeartbeats: "false",
  redactParams: "keep",
  redactSqlLiterals: "false",
  memorySize: "1769",
  objectEvents: "true",
  streamSilenceMinutes: "30",
};

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
/** A key id (a UUID, or mrk-… for a multi-Region key); an alias has "alias/" in it. */
const KMS_KEY_ID = /^[A-Za-z0-9-]+$/;

/**
 * The stack parameters the stream gives: its resource id, the ARN of its KMS key and the ARN of
 * its Kinesis stream. RDS names the key as it was given to start-activity-stream: a key id is made
 * an ARN in the database's partition, region and account (where RDS requires the key to be).
 * `overridden` names parameters the caller sets itself, which are not derived.
 * @throws SetupError when the key is an alias (the stack grants kms:Decrypt on a key ARN).
 */
export function streamParams(
  stream: StreamDescription,
  overridden: ReadonlySet<string> = new Set(),
): Record<string, string> {
  const { partition, region, account } = stream.arnParts;
  const params: Record<string, string> = {
    dasResourceId: stream.resourceId,
    dasKinesisStreamArn: `arn:${partition}:kinesis:${region}:${account}:stream/${stream.kinesisStreamName}`,
  };
  if (overridden.has("dasKmsKeyArn")) return params;
  const key = stream.kmsKeyId;
  if (KMS_KEY_ARN.test(key)) return { ...params, dasKmsKeyArn: key };
  if (KMS_KEY_ID.test(key)) {
    return { ...params, dasKmsKeyArn: `arn:${partition}:kms:${region}:${account}:key/${key}` };
  }
  throw new SetupError(
    `RDS names the stream's KMS key ${key}: the stack needs the key's ARN (an alias can point elsewhere later)`,
    [
      `Find it: aws kms describe-key --region ${region} --key-id ${key} --query KeyMetadata.Arn --output text`,
      "then run setup again with --param dasKmsKeyArn=<that ARN>.",
    ],
  );
}

/**
 * Reads a stage file written before, to keep what else it sets.
 * @throws SetupError naming what is wrong with it.
 */
export function readStageFile(text: string, file: string): StageFile {
  const { region, database, params, problems } = parseStageFile(text, file, STAGE_PARAM_NAMES);
  if (problems.length > 0) {
    throw new SetupError(`${file} is there already and is not a parameters file: ${problems.join("; ")}`, [
      "Fix it, or move it away and run setup again.",
    ]);
  }
  return { region, database, params };
}

/**
 * What is wrong with the parameters, checked by deploy/stack-config.cjs as the deploy checks them
 * (those the file leaves out have their serverless.yml defaults): one "Parameter …" line each.
 */
export function checkStageParams(params: Readonly<Record<string, ParamValue>>): string[] {
  const full: Record<string, string> = {};
  for (const name of STAGE_PARAM_NAMES)
    full[name] = String(params[name] ?? DEFAULT_PARAMS[name] ?? "").trim();
  return checkParams(full);
}

/** The file's text: JSON, two-space indented, the parameters in the order stack-config.cjs lists them. */
export function formatStageFile(file: StageFile): string {
  const params: Record<string, ParamValue> = {};
  for (const name of STAGE_PARAM_NAMES) {
    const value = file.params[name];
    if (value !== undefined) params[name] = value;
  }
  return `${JSON.stringify({ region: file.region, database: file.database, params }, null, 2)}\n`;
}
