import type { S3Client } from "@aws-sdk/client-s3";
import { listPage } from "./list-raw-objects.ts";

/** How the keys under a prefix are laid out, from the first page of a listing. */
export interface FoundLayout {
  /** Keys looked at (one page, up to 1000). */
  readonly sampled: number;
  /** The folders that hold `YYYY/MM/dd/HH/` hour folders, e.g. `raw/stream-a/`; empty when none does. */
  readonly hourParents: string[];
  /** The first and last hour folders seen, e.g. `2026-11-25T09`. */
  readonly hours: readonly [first: string, last: string] | undefined;
  /** A key that is not in an hour folder, when some are not. */
  readonly example: string | undefined;
}

const HOUR_FOLDER = /^(.*?)(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//;

/**
 * Looks at the first keys under `prefix` (ours, output and quarantine, left out) to say where the
 * Firehose hour folders are, for when an hour range matched none. `undefined`: nothing is there.
 */
export async function findHourLayout(
  s3: S3Client,
  bucket: string,
  prefix: string,
  exclude: (key: string) => boolean,
): Promise<FoundLayout | undefined> {
  const page = await listPage(s3, { Bucket: bucket, Prefix: prefix, MaxKeys: 1000 });
  const keys = (page.Contents ?? [])
    .map((object) => object.Key ?? "")
    .filter((key) => key !== "" && !key.endsWith("/") && !exclude(key));
  if (keys.length === 0) return undefined;
  const parents: string[] = [];
  const hours: string[] = [];
  let example: string | undefined;
  for (const key of keys) {
    const match = HOUR_FOLDER.exec(key.slice(prefix.length));
    if (match === null) {
      example ??= key;
      continue;
    }
    const [, parent, y, m, d, h] = match;
    if (!parents.includes(`${prefix}${parent}`)) parents.push(`${prefix}${parent}`);
    hours.push(`${y}-${m}-${d}T${h}`);
  }
  hours.sort();
  const first = hours[0];
  const last = hours.at(-1);
  return {
    sampled: keys.length,
    hourParents: parents,
    hours: first === undefined || last === undefined ? undefined : [first, last],
    example,
  };
}

/**
 * What to tell the user when `--from/--to` matched no hour folder under `s3://bucket/prefix` but
 * objects are there: where the hour folders are, and what to run instead. The first line says
 * what was found; the second what to do.
 */
export function describeLayout(bucket: string, prefix: string, found: FoundLayout): [string, string] {
  const at = `s3://${bucket}/${prefix}`;
  const hours = found.hours === undefined ? "" : ` (hours ${found.hours[0]} to ${found.hours[1]} seen)`;
  const [only, ...others] = found.hourParents;
  if (only === undefined)
    return [
      `no hour folders under ${at}: its objects are not in YYYY/MM/dd/HH/ folders (e.g. ${found.example})`,
      "--from/--to select Firehose hour folders: leave them out to reprocess everything under the prefix",
    ];
  const layouts = found.hourParents.map((parent) => `${parent}YYYY/MM/dd/HH/`).join(", ");
  if (others.length === 0 && only === prefix)
    return [
      `no objects in those hours under ${at}, laid out as ${layouts}${hours}`,
      "choose --from/--to among the hours that are there",
    ];
  const fix =
    others.length === 0
      ? `give the prefix down to the hour folders: s3://${bucket}/${only}`
      : `run once per folder, e.g. with s3://${bucket}/${only}`;
  return [`no hour folders directly under ${at}: its objects are laid out as ${layouts}${hours}`, fix];
}
