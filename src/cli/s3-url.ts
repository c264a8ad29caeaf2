import { UsageError } from "../config/errors.ts";

/** A parsed `s3://bucket/prefix` address. */
export interface S3Url {
  readonly bucket: string;
  readonly key: string;
}

/**
 * Parses `s3://bucket/key-or-prefix`.
 * @throws UsageError naming the argument when it is not an s3:// URL with a bucket.
 */
export function parseS3Url(text: string): S3Url {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(text);
  if (match === null || match[1] === undefined)
    throw new UsageError(`"${text}" is not an s3://bucket/key address`);
  return { bucket: match[1], key: match[2] ?? "" };
}

/** `2026-11-01T00` (an hour, UTC) → epoch ms. @throws UsageError naming the flag. */
export function parseHour(text: string, flag: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?(?::00(?::00)?Z?)?$/.exec(text);
  if (match === null) throw new UsageError(`${flag} must be an hour like 2026-11-01T00 (UTC), got "${text}"`);
  const [, y, m, d, h] = match;
  return Date.UTC(Number(y), Number(m) - 1, Number(d), Number(h ?? "0"));
}

/** The Firehose hour folders `YYYY/MM/dd/HH/` from `fromMs` (inclusive) to `toMs` (exclusive). */
export function hourFolders(fromMs: number, toMs: number): string[] {
  const folders: string[] = [];
  for (let at = fromMs; at < toMs; at += 3_600_000) {
    const d = new Date(at);
    const pad = (n: number) => String(n).padStart(2, "0");
    folders.push(
      `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/`,
    );
  }
  return folders;
}
