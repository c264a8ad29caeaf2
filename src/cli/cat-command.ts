import { stat } from "node:fs/promises";
import type { Writable } from "node:stream";
import { createClients } from "../config/clients.ts";
import { UsageError } from "../config/errors.ts";
import { buildDeps } from "../lambda/handler.ts";
import type { ObjectSummary } from "../process-object.ts";
import { requireRegion } from "./aws-region.ts";
import { catObject, LOCAL_FILE_BUCKET } from "./cat.ts";
import { configFrom } from "./config-flags.ts";
import { type CliIo, EXIT, reportError } from "./io.ts";
import { openQuarantineFile } from "./quarantine-file.ts";
import { parseS3Url } from "./s3-url.ts";

/**
 * `das-decrypt cat`: decrypts one object to stdout and says on stderr what it found. Exits 0 when
 * the object is a DAS object (or its reader stopped reading), 1 when it is not one or could not be
 * read, 2 on bad usage or configuration, 130 on Ctrl-C.
 */
export async function runCat(
  io: CliIo,
  output: { readonly signal: AbortSignal; failure(): Error | undefined },
  source: string,
  flags: Record<string, unknown>,
): Promise<number> {
  const s3Source = source.startsWith("s3://") ? parseS3Url(source) : undefined;
  const name = s3Source === undefined ? source : `s3://${s3Source.bucket}/${s3Source.key}`;
  const rename =
    s3Source === undefined ? ([`s3://${LOCAL_FILE_BUCKET}/${source}`, source] as const) : undefined;
  const stop = new AbortController();
  const signals = [output.signal, stop.signal, ...(io.signal === undefined ? [] : [io.signal])];
  let quarantine: Writable | undefined;
  try {
    if (s3Source === undefined) await requireFile(source);
    const { config } = configFrom(io, flags, {
      OUTPUT_COMPRESSION: "none",
      ...(typeof flags.format === "string" ? { OUTPUT_FORMAT: flags.format } : {}),
      ...(flags.includeHeartbeats === true ? { INCLUDE_HEARTBEATS: "true" } : {}),
    });
    const clients = createClients(config);
    await requireRegion(clients.kms);
    if (typeof flags.quarantine === "string")
      quarantine = await openQuarantineFile(flags.quarantine, (error) => stop.abort(error));
    const summary = await catObject({
      bucket: s3Source?.bucket,
      key: s3Source?.key ?? source,
      deps: buildDeps(config, clients),
      out: io.stdout,
      quarantine,
      signal: AbortSignal.any(signals),
    });
    // Ended quietly: the reader has what it wanted.
    if (output.signal.aborted) return outputEnded(io, output.failure(), rename);
    return report(io, name, summary, quarantine !== undefined);
  } catch (error) {
    if (output.signal.aborted) return outputEnded(io, output.failure(), rename);
    if (stop.signal.aborted) return reportError(io, stop.signal.reason, rename);
    if (io.signal?.aborted === true) return EXIT.interrupted;
    return reportError(io, error, rename);
  } finally {
    if (quarantine !== undefined) await closeQuietly(quarantine);
  }
}

/** A local source must be a readable file: a folder or a missing path is a usage error. */
async function requireFile(path: string): Promise<void> {
  const found = await stat(path).catch(() => undefined);
  if (found === undefined)
    throw new UsageError(`${path}: no such file (give a file path or s3://bucket/key)`);
  if (found.isDirectory())
    throw new UsageError(
      `${path} is a directory: cat decrypts one object; give one of its files, or upload them and use reprocess`,
    );
}

/** The counts on stderr; an object none of whose pieces is a DAS record is an error (exit 1). */
function report(io: CliIo, name: string, summary: ObjectSummary, keeping: boolean): number {
  const { records, events, quarantined } = summary;
  if (records === 0 && quarantined > 0) {
    io.stderr.write(`das-decrypt: ${name}: ${notDasVerdict(summary)}\n`);
    return EXIT.failed;
  }
  const keep = quarantined > 0 && !keeping ? " (keep them with --quarantine FILE)" : "";
  io.stderr.write(`${records} records, ${events} events, ${quarantined} quarantined${keep}\n`);
  return EXIT.ok;
}

/** Reasons a piece is quarantined before any decryption: the bytes are not a DAS record's JSON. */
const NOT_JSON = new Set([
  "garbage",
  "invalid-json",
  "truncated",
  "too-large",
  "gzip-corrupt",
  "gzip-truncated",
]);
/** Reasons of JSON objects without a DAS record's fields (decrypted output has neither). */
const NOT_DAS_JSON = new Set(["missing-key", "missing-events"]);

/** One line saying what was found instead of DAS records, from the quarantine reasons only. */
function notDasVerdict(summary: ObjectSummary): string {
  const reasons = Object.entries(summary.quarantineReasons);
  const counts = reasons.map(([reason, count]) => `${reason}: ${count}`).join(", ");
  const n = summary.quarantined;
  if (reasons.every(([reason]) => NOT_DAS_JSON.has(reason)))
    return `not a DAS object: ${n} JSON lines without the key and databaseActivityEvents of a DAS record (already decrypted output?)`;
  if (reasons.every(([reason]) => NOT_JSON.has(reason) || NOT_DAS_JSON.has(reason)))
    return `not a DAS object: no DAS record in it, only ${n} pieces that are not DAS records (${counts})`;
  return `no record could be decrypted: ${n} quarantined (${counts}); keep them with --quarantine FILE to see why`;
}

/** Exit 0 when the reader went away; a failing output (a full disk) is an error. */
function outputEnded(io: CliIo, failure: Error | undefined, rename: readonly [string, string] | undefined) {
  return failure === undefined ? EXIT.ok : reportError(io, failure, rename);
}

async function closeQuietly(stream: Writable): Promise<void> {
  if (stream.destroyed) return;
  await new Promise<void>((resolve) => stream.end(resolve));
}
