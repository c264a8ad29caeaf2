import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { RDSClient } from "@aws-sdk/client-rds";
import { type Command, InvalidArgumentError, Option } from "commander";
import { stageFile } from "../../deploy/stack-config.cjs";
import { ConfigError, UsageError } from "../config/errors.ts";
import { requireRegion } from "./aws-region.ts";
import { type CliIo, EXIT, reportError } from "./io.ts";
import {
  type DatabaseTarget,
  describeStream,
  regionOfTarget,
  SetupError,
  type StreamDescription,
} from "./setup-database.ts";
import {
  checkStageParams,
  formatStageFile,
  type ParamValue,
  readStageFile,
  STAGE_PARAM_NAMES,
  type StageFile,
  streamParams,
} from "./setup-params.ts";

/** osls's rule for a stage name, which is also the file's name. */
const STAGE = /^[A-Za-z0-9-]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const STAGE_RULE = "letters, digits and hyphens (it names the stack and the file)";
const REGION_RULE = "a region like eu-west-1";

/** Adds the options of `das-decrypt setup` to its command. */
export function addSetupOptions(command: Command): Command {
  return command
    .description(
      "write a stage's deploy parameters, read from RDS: the stream's resource id, KMS key and Kinesis stream",
    )
    .addOption(
      new Option("--cluster <name-or-arn>", "the Aurora cluster of the activity stream").conflicts(
        "instance",
      ),
    )
    .option("--instance <name-or-arn>", "the RDS for Oracle or SQL Server DB instance of the activity stream")
    .option(
      "--stage <stage>",
      "the stage `serverless deploy --stage` deploys",
      matching(STAGE, "--stage", STAGE_RULE),
      "dev",
    )
    .option(
      "--region <region>",
      "the database's region (default: its ARN's, else AWS_REGION)",
      matching(REGION, "--region", REGION_RULE),
    )
    .option("--bucket <name>", "the bucketName parameter (default: the stack creates one)")
    .option("--param <name=value>", "also set this stack parameter (repeatable)", collectParam)
    .option("--out <file>", "where to write (default params/<stage>.json; - for stdout)")
    .addHelpText(
      "after",
      "\nExamples:\n  das-decrypt setup --cluster audit-aurora --stage prod && npx serverless deploy --stage prod\n  das-decrypt setup --instance arn:aws:rds:eu-west-1:111122223333:db:audit-oracle --stage prod --bucket corp-das --param existingBucket=true",
    );
}

const matching = (pattern: RegExp, flag: string, rule: string) => (value: string) => {
  if (!pattern.test(value)) throw new InvalidArgumentError(`${flag} must be ${rule}`);
  return value;
};

function collectParam(value: string, params: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf("=");
  if (at < 1) throw new InvalidArgumentError("--param must be <name>=<value>");
  const name = value.slice(0, at);
  if (!STAGE_PARAM_NAMES.includes(name)) {
    throw new InvalidArgumentError(
      `--param ${name} is not a parameter of the stack (see params in serverless.yml)`,
    );
  }
  return { ...params, [name]: value.slice(at + 1) };
}

/**
 * `das-decrypt setup`: asks RDS for the database's activity stream, checks it is started, and
 * writes the stage's parameters where `serverless deploy --stage <stage>` reads them. Returns 0 when
 * written, 1 when RDS cannot be asked or the stream cannot be deployed from, 2 without a region.
 * @throws UsageError on bad usage (the program prints it with the usage line and exits 2).
 */
export async function runSetup(io: CliIo, flags: Record<string, unknown>): Promise<number> {
  try {
    const target = targetOf(flags);
    const stage = String(flags.stage);
    const out = outputOf(flags, stage);
    const overrides: Record<string, ParamValue> = { ...(flags.param as Record<string, string> | undefined) };
    if (typeof flags.bucket === "string") overrides.bucketName = flags.bucket;
    const before =
      out === "-" || !existsSync(out) ? undefined : readStageFile(await readFile(out, "utf8"), out);

    const arnRegion = regionOfTarget(target);
    const region = typeof flags.region === "string" ? flags.region : arnRegion;
    if (arnRegion !== undefined && region !== arnRegion) {
      throw new UsageError(`--region ${region} is not the region of ${target.identifier}`);
    }
    const client = createRdsClient(region);
    await requireDatabaseRegion(client);
    const stream = await describeStream(client, target);

    const params = {
      ...before?.params,
      ...streamParams(stream, new Set(Object.keys(overrides))),
      ...overrides,
    };
    const problems = checkStageParams(params);
    if (problems.length > 0) {
      throw new SetupError(`These parameters would not deploy, so ${out} was not written:`, problems);
    }
    const file: StageFile = { region: stream.arnParts.region, database: stream.arn, params };
    await write(io, out, formatStageFile(file));
    report(io, { stage, out, file, stream, updated: before !== undefined });
    return EXIT.ok;
  } catch (error) {
    // The program prints it, with the command's usage line.
    if (error instanceof UsageError) throw error;
    const code = reportError(io, error);
    if (error instanceof SetupError) for (const hint of error.hints) io.stderr.write(`  ${hint}\n`);
    return code;
  }
}

function targetOf(flags: Record<string, unknown>): DatabaseTarget {
  if (typeof flags.cluster === "string") return { kind: "cluster", identifier: flags.cluster };
  if (typeof flags.instance === "string") return { kind: "instance", identifier: flags.instance };
  throw new UsageError(
    "setup needs --cluster <name or ARN> (Aurora) or --instance <name or ARN> (RDS for Oracle or SQL Server)",
  );
}

/** Where the file goes: params/<stage>.json beside serverless.yml, unless --out says otherwise. */
function outputOf(flags: Record<string, unknown>, stage: string): string {
  if (typeof flags.out === "string") return flags.out;
  if (!existsSync("serverless.yml")) {
    throw new UsageError(
      `no serverless.yml here: run setup in the das-decrypt folder (deploy reads ${stageFile(stage)} beside serverless.yml), or give --out`,
    );
  }
  return stageFile(stage);
}

/**
 * The RDS client `setup` asks: the region given (else the SDK's chain), endpoint and credentials
 * from the SDK's configuration (`AWS_ENDPOINT_URL_RDS`, …), a few quick attempts.
 */
function createRdsClient(region: string | undefined): RDSClient {
  return new RDSClient({
    ...(region === undefined ? {} : { region }),
    retryMode: "standard",
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  });
}

/** The SDK's own region chain, or --region; without one every call fails with "Region is missing". */
async function requireDatabaseRegion(client: RDSClient): Promise<void> {
  try {
    await requireRegion(client);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(
      "AWS_REGION",
      "is not set and no profile gives a region: pass --region <the database's region> (or the database's ARN), or export AWS_REGION",
    );
  }
}

/** Writes the file whole (a new name, then renamed over the old one), or the text to stdout for "-". */
async function write(io: CliIo, out: string, text: string): Promise<void> {
  if (out === "-") {
    io.stdout.write(text);
    return;
  }
  await mkdir(dirname(resolve(out)), { recursive: true });
  const partial = `${out}.${process.pid}.partial`;
  await writeFile(partial, text);
  await rename(partial, out);
}

/** What was read and written, and the deploy command, on stderr. */
function report(
  io: CliIo,
  done: {
    stage: string;
    out: string;
    file: StageFile;
    stream: StreamDescription;
    updated: boolean;
  },
): void {
  const { stage, out, file, stream } = done;
  const kind = stream.kind === "cluster" ? "Aurora cluster" : "DB instance";
  const mode = stream.mode === undefined ? "" : `, ${stream.mode}`;
  const lines = [`${kind} ${stream.name} (${stream.engine}, ${file.region}): activity stream started${mode}`];
  const width = Math.max(...Object.keys(file.params).map((name) => name.length));
  for (const name of STAGE_PARAM_NAMES) {
    const value = file.params[name];
    if (value !== undefined) lines.push(`  ${name.padEnd(width)}  ${value}`);
  }
  if (out === "-") {
    lines.push(`Deploy reads these from ${stageFile(stage)} beside serverless.yml.`);
  } else if (resolve(out) === resolve(stageFile(stage)) && existsSync("serverless.yml")) {
    lines.push(
      `${done.updated ? "Updated" : "Wrote"} ${out}. Deploy with: npx serverless deploy --stage ${stage}`,
    );
  } else {
    lines.push(
      `${done.updated ? "Updated" : "Wrote"} ${out}. Deploy reads ${stageFile(stage)} beside serverless.yml: put it there.`,
    );
  }
  io.stderr.write(`${lines.join("\n")}\n`);
}
