import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { Command, InvalidArgumentError, Option } from "commander";
import { createClients, createLambdaClient } from "../clients.ts";
import { type Config, loadConfig } from "../config.ts";
import { ConfigError, UsageError } from "../errors.ts";
import { buildDeps, createHandler } from "../handler.ts";
import { NO_METRICS } from "../metrics.ts";
import type { Log } from "../run-object.ts";
import { catObject } from "./cat.ts";
import { type Emitter, lambdaEmitter, localEmitter } from "./emitters.ts";
import { writeManifest } from "./manifest.ts";
import { createProgress } from "./progress.ts";
import { reprocess } from "./reprocess.ts";
import { parseHour, parseS3Url } from "./s3-url.ts";

/** What the commands read and write; the bin passes the process's own, tests their own. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
  /** Aborted on Ctrl-C: reprocessing stops sending and prints where to resume. */
  readonly signal?: AbortSignal;
}

/** Flags that override the function's configuration variables of the same meaning. */
const CONFIG_FLAGS: [flag: string, variable: string, description: string][] = [
  ["--resource-id <id>", "DAS_RESOURCE_ID", "stream resource id, cluster-… or db-… (DAS_RESOURCE_ID)"],
  ["--resource-id-map <json>", "DAS_RESOURCE_ID_MAP", "JSON {prefix: resource id} (DAS_RESOURCE_ID_MAP)"],
  ["--output-bucket <bucket>", "OUTPUT_BUCKET", "output bucket (OUTPUT_BUCKET; default: the source bucket)"],
  ["--output-prefix <prefix>", "OUTPUT_PREFIX", "output prefix (OUTPUT_PREFIX; default decrypted/)"],
  [
    "--quarantine-prefix <prefix>",
    "QUARANTINE_PREFIX",
    "quarantine prefix (QUARANTINE_PREFIX; default quarantine/)",
  ],
  ["--format <format>", "OUTPUT_FORMAT", "events or records (OUTPUT_FORMAT; default events)"],
  ["--compression <compression>", "OUTPUT_COMPRESSION", "gzip or none (OUTPUT_COMPRESSION; default gzip)"],
];

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};

/** The exit code a command decided on (set by the actions, read by {@link runCli}). */
interface RunState {
  exitCode: number;
}

/** The `das-decrypt` program. Exit codes: 0 done, 1 some objects failed, 2 bad usage or config, 130 interrupted. */
export function buildProgram(io: CliIo, state: RunState = { exitCode: 0 }): Command {
  const program = new Command("das-decrypt")
    .description("Decrypt Amazon Aurora / RDS Database Activity Streams objects that Firehose lands in S3.")
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  program.addHelpText(
    "after",
    "\nConfiguration comes from the same variables as the function (DAS_RESOURCE_ID, OUTPUT_PREFIX, …);\nflags override them. AWS credentials, region and endpoints come from the AWS SDK's usual settings.",
  );

  const reprocessCommand = program
    .command("reprocess")
    .description("re-emit S3 events for raw objects so they are decrypted (again)")
    .argument("<s3-prefix>", "s3://bucket/prefix/ of the raw objects")
    .option("--from <hour>", "first Firehose hour to include, UTC, e.g. 2026-11-01T00")
    .option("--to <hour>", "hour to stop before, UTC, e.g. 2026-11-02T00")
    .option("--local", "decrypt in this process with the function's own code")
    .option("--function <name>", "invoke the deployed function asynchronously, as S3 would")
    .option("--rate <n>", "invocations per second with --function", positive("--rate"), 20)
    .option("--batch-size <n>", "objects per emitted event", positive("--batch-size"), 1)
    .option("--concurrency <n>", "objects in flight at once", positive("--concurrency"), 4)
    .option("--force", "also re-emit objects whose decrypted twin is up to date")
    .option("--dry-run", "list what would be re-emitted, send nothing")
    .option("--start-after <key>", "resume: skip keys up to and including this one")
    .option(
      "--manifest <target>",
      "write an S3 Batch Operations manifest (s3://… or a file) instead of sending",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  das-decrypt reprocess s3://my-bucket/raw/ --from 2026-11-01T00 --to 2026-11-02T00 --local\n  das-decrypt reprocess s3://my-bucket/raw/ --function das-decrypt-prod-decrypt --rate 10\n  das-decrypt reprocess s3://my-bucket/raw/ --manifest s3://my-bucket/batch/manifest.csv --function arn:aws:lambda:…",
    );
  for (const [flag, , description] of CONFIG_FLAGS) reprocessCommand.option(flag, description);
  reprocessCommand.action(async (target: string, flags: Record<string, unknown>) => {
    state.exitCode = await runReprocess(io, target, flags);
  });

  const catCommand = program
    .command("cat")
    .description("decrypt one object (s3://bucket/key or a local file) to stdout as NDJSON")
    .argument("<source>", "s3://bucket/key or a file path")
    .addOption(new Option("--format <format>", "events or records").choices(["events", "records"]))
    .option("--include-heartbeats", "keep heartbeat events")
    .option(
      "--quarantine <file>",
      "write records that cannot be decrypted here (NDJSON, with their raw bytes)",
    )
    .addHelpText(
      "after",
      "\nExample:\n  das-decrypt cat s3://my-bucket/raw/2026/11/25/10/das-1-… | jq 'select(.exitCode == \"28P01\")'",
    );
  for (const [flag, , description] of CONFIG_FLAGS.filter(([f]) => f.startsWith("--resource"))) {
    catCommand.option(flag, description);
  }
  catCommand.action(async (source: string, flags: Record<string, unknown>) => {
    await runCat(io, source, flags);
  });
  return program;
}

/**
 * Runs the program on `argv` (without `node` and the script) and returns the exit code; errors of
 * usage, configuration or arguments are printed as one line, never a stack.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const state: RunState = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(argv, { from: "user" });
    return state.exitCode;
  } catch (error) {
    const code = (error as { code?: string; exitCode?: number }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version") return 0;
    if (typeof code === "string" && code.startsWith("commander.")) return 2;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`das-decrypt: ${message}\n`);
    return error instanceof ConfigError || error instanceof UsageError ? 2 : 1;
  }
}

/** The function's configuration with the flags applied, and the environment it was read from. */
function configFrom(
  io: CliIo,
  flags: Record<string, unknown>,
  extra: Record<string, string> = {},
): { config: Config; env: Record<string, string | undefined> } {
  const overrides: Record<string, string> = {};
  for (const [flag, variable] of CONFIG_FLAGS) {
    const name = flag.slice(2, flag.indexOf(" ")).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = flags[name];
    if (typeof value === "string") overrides[variable] = value;
  }
  const env = { ...io.env, ...overrides, ...extra };
  return { config: loadConfig(env), env };
}

function usage(message: string): UsageError {
  return new UsageError(message);
}

/** The handler's own reporting, quiet: only failures, as one JSON line each on stderr. */
function stderrLog(io: CliIo): Log {
  const line =
    (level: string) =>
    (message: string, extra: Record<string, unknown> = {}) =>
      io.stderr.write(`${JSON.stringify({ level, message, ...extra })}\n`);
  return { info: () => undefined, warn: line("warn"), error: line("error") };
}

async function runReprocess(io: CliIo, target: string, flags: Record<string, unknown>): Promise<number> {
  const source = parseS3Url(target);
  const fromMs = typeof flags.from === "string" ? parseHour(flags.from, "--from") : undefined;
  const toMs = typeof flags.to === "string" ? parseHour(flags.to, "--to") : undefined;
  if ((fromMs === undefined) !== (toMs === undefined)) throw usage("--from and --to go together");
  if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs) throw usage("--to must be after --from");
  const dryRun = flags.dryRun === true;
  const manifest = typeof flags.manifest === "string" ? flags.manifest : undefined;
  const functionName = typeof flags.function === "string" ? flags.function : undefined;
  const local = flags.local === true;
  if (!dryRun && manifest === undefined && local === (functionName !== undefined)) {
    throw usage("choose where events go: --local or --function NAME (or --dry-run / --manifest)");
  }
  const { config, env } = configFrom(io, flags);
  const { s3 } = createClients(config);
  let emitter: Emitter | undefined;
  if (!dryRun && manifest === undefined) {
    emitter = local
      ? localEmitter(
          createHandler(env, { logger: stderrLog(io), metrics: NO_METRICS, deps: buildDeps(config) }),
        )
      : lambdaEmitter(createLambdaClient(), functionName as string, flags.rate as number);
  }
  const result = await reprocess({
    source,
    ...(fromMs === undefined ? {} : { fromMs }),
    ...(toMs === undefined ? {} : { toMs }),
    ...(typeof flags.startAfter === "string" ? { startAfter: flags.startAfter } : {}),
    force: flags.force === true,
    concurrency: flags.concurrency as number,
    batchSize: flags.batchSize as number,
    config,
    s3,
    emitter,
    progress: createProgress(io.stdout, { verb: emitter === undefined ? "to send" : "sent" }),
    ...(io.signal === undefined ? {} : { signal: io.signal }),
  });
  const { counts } = result;
  if (dryRun) {
    for (const object of result.pending) io.stdout.write(`would send s3://${object.bucket}/${object.key}\n`);
  }
  if (manifest !== undefined) {
    const command = await writeManifest(s3, manifest, result.pending, functionName);
    io.stdout.write(
      `manifest of ${result.pending.length} objects written to ${manifest}; start the job with:\n${command}\n`,
    );
  }
  const verb = emitter === undefined ? "to send" : "sent";
  io.stdout.write(
    `${counts.total} objects: ${result.pending.length} ${verb}, ${counts.upToDate} up to date, ${counts.failed} failed\n`,
  );
  for (const failure of result.failures.slice(0, 20))
    io.stderr.write(`failed: ${failure.key}: ${failure.error}\n`);
  if (!result.interrupted && result.failures.length === 0) return 0;
  if (result.resumeAfter !== undefined)
    io.stdout.write(`resume with: --start-after '${result.resumeAfter}'\n`);
  return result.interrupted ? 130 : 1;
}

async function runCat(io: CliIo, source: string, flags: Record<string, unknown>): Promise<void> {
  const s3Source = source.startsWith("s3://") ? parseS3Url(source) : undefined;
  const { config } = configFrom(io, flags, {
    OUTPUT_COMPRESSION: "none",
    ...(typeof flags.format === "string" ? { OUTPUT_FORMAT: flags.format } : {}),
    ...(flags.includeHeartbeats === true ? { INCLUDE_HEARTBEATS: "true" } : {}),
  });
  const quarantine = typeof flags.quarantine === "string" ? createWriteStream(flags.quarantine) : undefined;
  try {
    const summary = await catObject({
      bucket: s3Source?.bucket,
      key: s3Source?.key ?? source,
      deps: buildDeps(config),
      out: io.stdout,
      quarantine,
    });
    io.stderr.write(
      `${summary.records} records, ${summary.events} events, ${summary.quarantined} quarantined` +
        `${summary.quarantined > 0 && quarantine === undefined ? " (keep them with --quarantine FILE)" : ""}\n`,
    );
  } finally {
    quarantine?.end();
  }
}
