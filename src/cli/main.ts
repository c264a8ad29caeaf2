import { Command, InvalidArgumentError, Option } from "commander";
import { UsageError } from "../config/errors.ts";
import { runCat } from "./cat-command.ts";
import { addConfigFlags } from "./config-flags.ts";
import { type CliIo, EXIT, reportError, watchOutput } from "./io.ts";
import { runReprocess } from "./reprocess-command.ts";
import { addSetupOptions, runSetup } from "./setup-command.ts";
import { packageVersion } from "./version.ts";

export type { CliIo } from "./io.ts";

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};

/** What a command's action decided: its exit code, and the command that ran (for usage lines). */
interface RunState {
  exitCode: number;
  command: Command | undefined;
}

/** The `das-decrypt` program. Exit codes: 0 done, 1 something failed, 2 bad usage or config, 130 interrupted. */
export function buildProgram(
  io: CliIo,
  state: RunState = { exitCode: 0, command: undefined },
  output = watchOutput(io.stdout),
): Command {
  const program = new Command("das-decrypt")
    .description("Decrypt Amazon Aurora / RDS Database Activity Streams objects that Firehose lands in S3.")
    .version(packageVersion(), "-V, --version", "print the version")
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`das-decrypt: ${s.replace(/^error: /, "")}`),
    })
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
    .option("--dry-run", "list what would be re-emitted (on stdout), send nothing")
    .option("--start-after <key>", "resume: skip keys up to and including this one")
    .option(
      "--manifest <target>",
      "write an S3 Batch Operations manifest (s3://… or a file) instead of sending",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  das-decrypt reprocess s3://my-bucket/raw/ --from 2026-11-01T00 --to 2026-11-02T00 --local\n  das-decrypt reprocess s3://my-bucket/raw/ --function das-decrypt-prod-decrypt --rate 10\n  das-decrypt reprocess s3://my-bucket/raw/ --manifest s3://my-bucket/batch/manifest.csv --function arn:aws:lambda:…",
    );
  addConfigFlags(reprocessCommand);
  reprocessCommand.action(async (target: string, flags: Record<string, unknown>) => {
    state.command = reprocessCommand;
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
  addConfigFlags(catCommand, (flag) => flag.startsWith("--resource"));
  catCommand.action(async (source: string, flags: Record<string, unknown>) => {
    state.command = catCommand;
    state.exitCode = await runCat(io, output, source, flags);
  });

  const setupCommand = addSetupOptions(program.command("setup"));
  setupCommand.action(async (flags: Record<string, unknown>) => {
    state.command = setupCommand;
    state.exitCode = await runSetup(io, flags);
  });

  // A wrong flag or value prints the error and the command's usage line, not the whole help.
  for (const command of [program, ...program.commands]) command.showHelpAfterError(usageOf(command));
  return program;
}

/** `Usage: das-decrypt cat [options] <source>` and where the rest of the help is. */
function usageOf(command: Command): string {
  const path = command.parent === null ? command.name() : `${command.parent.name()} ${command.name()}`;
  return `Usage: ${path} ${command.usage()}\nRun '${path} --help' for the options.`;
}

/**
 * Runs the program on `argv` (without `node` and the script) and returns the exit code. Errors are
 * printed as one line (and what to do about them), never a stack; a bad argument also prints the
 * command's usage line.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const state: RunState = { exitCode: EXIT.ok, command: undefined };
  const output = watchOutput(io.stdout);
  const program = buildProgram(io, state, output);
  try {
    await program.parseAsync(argv, { from: "user" });
    return state.exitCode;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version") return EXIT.ok;
    if (typeof code === "string" && code.startsWith("commander.")) return EXIT.usage;
    const exitCode = reportError(io, error);
    if (error instanceof UsageError && state.command !== undefined)
      io.stderr.write(`${usageOf(state.command)}\n`);
    return exitCode;
  }
}
