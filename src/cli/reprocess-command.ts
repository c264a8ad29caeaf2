import { createClients, createLambdaClient } from "../config/clients.ts";
import { UsageError } from "../config/errors.ts";
import { buildDeps, createHandler } from "../lambda/handler.ts";
import { NO_METRICS } from "../lambda/metrics.ts";
import type { Log } from "../lambda/run-object.ts";
import { isOutputKey } from "../output/output-key.ts";
import { isQuarantineKey } from "../output/quarantine.ts";
import { requireRegion } from "./aws-region.ts";
import { configFrom } from "./config-flags.ts";
import { type EmitFailure, type Emitter, lambdaEmitter, localEmitter } from "./emitters.ts";
import { explainError, secretsIn } from "./explain-error.ts";
import { describeLayout, findHourLayout } from "./hour-layout.ts";
import { type CliIo, EXIT } from "./io.ts";
import { writeManifest } from "./manifest.ts";
import { createProgress, doneOf, formatCounts, type ProgressDisplay } from "./progress.ts";
import { type ReprocessResult, reprocess } from "./reprocess.ts";
import { parseHour, parseS3Url } from "./s3-url.ts";

/** Objects listed under each failure; past this many, a count stands for the rest. */
const LISTED_FAILURES = 20;

/**
 * `das-decrypt reprocess`: stdout carries data only (the keys of `--dry-run`, a manifest's
 * command); progress, counts, failures and hints go to stderr. Exits 0 when all went, 1 when
 * some failed, 2 on bad usage or when an hour range matches no hour folder, 130 on Ctrl-C.
 * @throws UsageError, ConfigError, AwsCallError (listing).
 */
export async function runReprocess(
  io: CliIo,
  target: string,
  flags: Record<string, unknown>,
): Promise<number> {
  const source = parseS3Url(target);
  const fromMs = typeof flags.from === "string" ? parseHour(flags.from, "--from") : undefined;
  const toMs = typeof flags.to === "string" ? parseHour(flags.to, "--to") : undefined;
  if ((fromMs === undefined) !== (toMs === undefined)) throw new UsageError("--from and --to go together");
  if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs)
    throw new UsageError("--to must be after --from");
  const dryRun = flags.dryRun === true;
  const manifest = typeof flags.manifest === "string" ? flags.manifest : undefined;
  const functionName = typeof flags.function === "string" ? flags.function : undefined;
  const local = flags.local === true;
  if (!dryRun && manifest === undefined && local === (functionName !== undefined)) {
    throw new UsageError("choose where events go: --local or --function NAME (or --dry-run / --manifest)");
  }
  const { config, env } = configFrom(io, flags);
  const clients = createClients(config);
  await requireRegion(clients.s3);
  const sending = !dryRun && manifest === undefined;
  const verb = sending ? "sent" : "to send";
  const progress = createProgress(io.stderr, { verb });
  let emitter: Emitter | undefined;
  if (sending && local) {
    const logger = quietLog(progress);
    emitter = localEmitter(
      createHandler(env, { logger, metrics: NO_METRICS, deps: buildDeps(config, clients) }),
    );
  } else if (sending) {
    const lambda = createLambdaClient();
    await requireRegion(lambda);
    emitter = lambdaEmitter(lambda, functionName as string, flags.rate as number);
  }
  const stopping = () => {
    progress.stop();
    io.stderr.write("das-decrypt: stopping after the work in flight (Ctrl-C again to quit now)\n");
  };
  io.signal?.addEventListener("abort", stopping, { once: true });
  let result: ReprocessResult;
  try {
    result = await reprocess({
      source,
      ...(fromMs === undefined ? {} : { fromMs }),
      ...(toMs === undefined ? {} : { toMs }),
      ...(typeof flags.startAfter === "string" ? { startAfter: flags.startAfter } : {}),
      force: flags.force === true,
      concurrency: flags.concurrency as number,
      batchSize: flags.batchSize as number,
      config,
      s3: clients.s3,
      emitter,
      progress,
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
  } finally {
    io.signal?.removeEventListener("abort", stopping);
    progress.stop();
  }

  const { counts } = result;
  if (counts.total === 0) {
    const exclude = (key: string) =>
      isOutputKey(source.bucket, key, config) || isQuarantineKey(source.bucket, key, config);
    const found =
      fromMs !== undefined && typeof flags.startAfter !== "string"
        ? await findHourLayout(clients.s3, source.bucket, source.key, exclude)
        : undefined;
    if (found !== undefined) {
      const [what, todo] = describeLayout(source.bucket, source.key, found);
      io.stderr.write(`das-decrypt: ${what}\n  ${todo}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`no objects to reprocess under s3://${source.bucket}/${source.key}\n`);
    return EXIT.ok;
  }
  if (dryRun) io.stdout.write(result.pending.map((o) => `s3://${o.bucket}/${o.key}\n`).join(""));
  if (manifest !== undefined) {
    const command = await writeManifest(clients.s3, manifest, result.pending, functionName);
    io.stderr.write(
      `manifest of ${result.pending.length} objects written to ${manifest}; start the job with:\n`,
    );
    io.stdout.write(`${command}\n`);
  }
  const left = counts.total - doneOf(counts);
  io.stderr.write(
    `${counts.total} objects: ${formatCounts(counts, verb)}${left > 0 ? `, ${left} not sent` : ""}\n`,
  );
  reportFailures(io, result.failures);
  if (!result.interrupted && result.failures.length === 0) return EXIT.ok;
  if (result.resumeAfter !== undefined)
    io.stderr.write(`resume with: --start-after '${result.resumeAfter}'\n`);
  return result.interrupted ? EXIT.interrupted : EXIT.failed;
}

/**
 * Each failed object once, grouped by what went wrong: the error (without the object's name) and
 * what to do about it once per group, then the objects that failed that way.
 */
function reportFailures(io: CliIo, failures: readonly EmitFailure[]): void {
  const context = { secrets: secretsIn(io.env) };
  const groups = new Map<string, { hint: string | undefined; names: string[] }>();
  for (const { object, error } of failures) {
    const name = `s3://${object.bucket}/${object.key}`;
    const { message, hint } = explainError(error, context);
    const reason = withoutLocation(message, name);
    const group = groups.get(reason) ?? { hint, names: [] };
    group.names.push(name);
    groups.set(reason, group);
  }
  for (const [reason, { hint, names }] of groups) {
    const count = names.length === 1 ? "1 object" : `${names.length} objects`;
    io.stderr.write(`failed (${count}): ${reason}\n${hint === undefined ? "" : `  ${hint}\n`}`);
    for (const name of names.slice(0, LISTED_FAILURES)) io.stderr.write(`  ${name}\n`);
    if (names.length > LISTED_FAILURES) io.stderr.write(`  … and ${names.length - LISTED_FAILURES} more\n`);
  }
}

/** An error message without the leading `s3://bucket/key, record N, byte M: ` our errors start with. */
function withoutLocation(message: string, name: string): string {
  if (!message.startsWith(name)) return message;
  return message.slice(name.length).replace(/^(, record \d+)?(, byte \d+)?: /, "");
}

/**
 * The handler's reporting while reprocessing locally: failures are reported once, by the summary;
 * warnings (an output whose tags could not be written) are one line each.
 */
function quietLog(progress: ProgressDisplay): Log {
  return {
    info: () => undefined,
    error: () => undefined,
    warn: (message, extra = {}) => {
      const where =
        typeof extra.bucket === "string" && typeof extra.key === "string"
          ? `s3://${extra.bucket}/${extra.key}: `
          : "";
      const name = typeof extra.errorName === "string" ? ` (${extra.errorName})` : "";
      progress.note(`das-decrypt: warning: ${where}${message}${name}`);
    },
  };
}
