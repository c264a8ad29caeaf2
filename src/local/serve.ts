/**
 * `npm start -- --serve`: the demo's local S3 and KMS stay up for the command line. What a second
 * shell needs is printed as `export` lines (endpoints, region, credentials, the streams' resource
 * ids), followed by the documented examples with this stack's bucket and keys.
 */

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
export function exportLines(env: Readonly<Record<string, string>>, resourceIdMap: Record<string, string>) {
  const lines = SHELL_VARIABLES.map((name) => {
    const value = env[name];
    if (value === undefined) throw new Error(`the local stack's environment has no ${name}`);
    return `export ${name}=${shellQuote(value)}`;
  });
  return [...lines, `export DAS_RESOURCE_ID_MAP=${shellQuote(JSON.stringify(resourceIdMap))}`];
}

/** What the printed examples point at: objects the demo wrote. */
export interface Examples {
  readonly bucket: string;
  /** A raw Aurora PostgreSQL object in the bucket (it has failed logins, `exitCode` 28P01). */
  readonly key: string;
  /** A stream's folder and an hour range around its objects (`2026-11-25T10`, UTC). */
  readonly hours: { readonly prefix: string; readonly from: string; readonly to: string };
  /** A local copy of a raw object, and its stream's resource id (the map matches S3 keys only). */
  readonly file: { readonly path: string; readonly resourceId: string };
}

/** The operations examples (docs/operations.md), with the demo's bucket, keys and hours. */
export function exampleCommands({ bucket, key, hours, file }: Examples): string[] {
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
 * Resolves with the first SIGINT or SIGTERM. Later ones are ignored: a Ctrl-C under `npm start`
 * reaches this process more than once (from the terminal, and relayed by npm and tsx), and must not
 * end it before its servers are stopped.
 */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
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
