/**
 * `npm start -- --serve`: the demo's local S3 and KMS stay up for the command line. What a second
 * shell needs is printed as `export` lines (endpoints, region, credentials, the streams' resource
 * ids), followed by the documented examples with this stack's bucket and keys.
 */
import { join } from "node:path";
import type { Engine } from "./das-events.ts";
import type { LocalStack } from "./stack.ts";

/** A raw object the demo wrote, and the stream it belongs to. */
export interface WrittenObject {
  readonly engine: Engine;
  readonly resourceId: string;
  readonly key: string;
}

export interface ServeOptions {
  readonly bucket: string;
  /** `DAS_RESOURCE_ID_MAP`: each stream's key prefix and its resource id. */
  readonly resourceIdMap: Record<string, string>;
  readonly written: readonly WrittenObject[];
  /** The folder, relative to the working directory, that holds a copy of each raw object by its key. */
  readonly copies: string;
}

/**
 * Prints the `export` lines and the examples that work against the running stack, then waits for
 * Ctrl-C or SIGTERM; the caller stops the stack.
 * @throws Error when the demo wrote no Aurora PostgreSQL object (the examples need one).
 */
export async function serveUntilStopped(
  stack: Pick<LocalStack, "env">,
  { bucket, resourceIdMap, written, copies }: ServeOptions,
): Promise<void> {
  const postgres = written.filter(({ engine }) => engine === "aurora-postgresql");
  const [first] = postgres;
  const file = written.find(({ engine }) => engine === "oracle") ?? first;
  if (first === undefined || file === undefined)
    throw new Error("the demo wrote no Aurora PostgreSQL object");
  const examples = exampleCommands({
    bucket,
    key: first.key,
    hours: { prefix: `raw/${first.engine}/`, ...hourRange(postgres.map(({ key }) => key)) },
    file: { path: join(copies, file.key), resourceId: file.resourceId },
  });
  console.log(
    `\nthe local S3 and KMS keep running. In another shell, in this folder:\n\n${exportLines(stack.env, resourceIdMap).join("\n")}` +
      `\n\nthen try (bucket ${bucket}, raw objects under raw/<engine>/YYYY/MM/dd/HH/; docs/operations.md explains each):` +
      `\n\n${examples.join("\n")}\n\nserving; Ctrl-C stops the local S3 and KMS`,
  );
  const signal = await waitForStopSignal();
  console.log(`${signal}: stopping the local S3 and KMS`);
  // Stopping takes milliseconds; should it hang, end anyway, since further signals are ignored.
  setTimeout(() => {
    console.error("the local S3 and KMS did not stop within 5 s");
    process.exit(1);
  }, 5_000).unref();
}

/** The variables of the stack's environment a shell needs to reach it, in the order printed. */
const SHELL_VARIABLES = [
  "AWS_ENDPOINT_URL_S3",
  "AWS_ENDPOINT_URL_KMS",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "S3_FORCE_PATH_STYLE",
] as const;

/**
 * `export NAME=value` lines, one a line, quoted for a POSIX shell: the stack's endpoints, region and
 * credentials, and `DAS_RESOURCE_ID_MAP` (one resource id for each stream's key prefix).
 * @throws Error when `env` lacks one of the variables (a stack that is not the local one).
 */
function exportLines(env: Readonly<Record<string, string>>, resourceIdMap: Record<string, string>) {
  const lines = SHELL_VARIABLES.map((name) => {
    const value = env[name];
    if (value === undefined) throw new Error(`the local stack's environment has no ${name}`);
    return `export ${name}=${shellQuote(value)}`;
  });
  return [...lines, `export DAS_RESOURCE_ID_MAP=${shellQuote(JSON.stringify(resourceIdMap))}`];
}

/** What the printed examples point at: objects the demo wrote. */
interface Examples {
  readonly bucket: string;
  /** A raw Aurora PostgreSQL object in the bucket (it has failed logins, `exitCode` 28P01). */
  readonly key: string;
  /** A stream's folder and an hour range around its objects (`2026-11-25T10`, UTC). */
  readonly hours: { readonly prefix: string; readonly from: string; readonly to: string };
  /** A local copy of a raw object, and its stream's resource id (the map matches S3 keys only). */
  readonly file: { readonly path: string; readonly resourceId: string };
}

/** The operations examples (docs/operations.md), with the demo's bucket, keys and hours. */
function exampleCommands({ bucket, key, hours, file }: Examples): string[] {
  const cli = "npx das-decrypt";
  return [
    `${cli} cat s3://${bucket}/${key} | head -3`,
    `${cli} cat s3://${bucket}/${key} | jq -c 'select(.exitCode == "28P01")'`,
    `${cli} cat ${shellQuote(file.path)} --resource-id ${file.resourceId} --format records | head -1`,
    `${cli} reprocess s3://${bucket}/raw/ --dry-run --force`,
    `${cli} reprocess s3://${bucket}/raw/ --local`,
    `${cli} reprocess s3://${bucket}/raw/ --local --force`,
    `${cli} reprocess s3://${bucket}/${hours.prefix} --from ${hours.from} --to ${hours.to} --local --force`,
  ];
}

/**
 * Resolves with the first SIGINT or SIGTERM. Later ones are ignored: under `npm start` a Ctrl-C can
 * reach this process twice (from the terminal, and relayed by the tsx command when it did not see
 * it arrive), and must not end it before its servers are stopped.
 */
function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const ignore = () => undefined;
    const stop = (signal: NodeJS.Signals) => {
      for (const name of ["SIGINT", "SIGTERM"] as const) {
        process.off(name, stop);
        process.on(name, ignore);
      }
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** A word a POSIX shell reads back as `value`: bare when it is safe, else in single quotes. */
export function shellQuote(value: string): string {
  if (/^[\w@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The hours of Firehose keys as an hour range for --from / --to: the first, and the hour after the last. */
function hourRange(keys: readonly string[]): { from: string; to: string } {
  const hours = keys
    .flatMap((key) => {
      const match = /\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//.exec(key);
      return match === null ? [] : [Date.parse(`${match[1]}-${match[2]}-${match[3]}T${match[4]}:00:00Z`)];
    })
    .sort((a, b) => a - b);
  const label = (ms: number) => new Date(ms).toISOString().slice(0, 13);
  return { from: label(hours[0] ?? 0), to: label((hours.at(-1) ?? 0) + 3_600_000) };
}
