import { isFailedLogin } from "./summarize-events.ts";

type Line = Record<string, unknown>;

/** The fields shown of the sample line, in this order: which engine, who, from where, what, how it ended. */
const SHOWN = [
  "engine",
  "eventTime",
  "dbUserName",
  "remoteHost",
  "databaseName",
  "command",
  "exitCode",
  "errorMessage",
] as const;

/**
 * One decrypted line shortened for a terminal: an Aurora PostgreSQL failed login when there is one
 * (what the README's `jq 'select(.exitCode == "28P01")'` picks out), else the first line, with a
 * few of its fields. `undefined` when there are no lines.
 */
export function sampleLine(
  lines: readonly Line[],
): { text: string; shown: number; fields: number } | undefined {
  const line =
    lines.find((event) => event.engine === "aurora-postgresql" && isFailedLogin(event)) ?? lines[0];
  if (line === undefined) return undefined;
  const picked = SHOWN.filter((field) => Object.hasOwn(line, field)).map((field) => [field, line[field]]);
  return {
    text: JSON.stringify(Object.fromEntries(picked)),
    shown: picked.length,
    fields: Object.keys(line).length,
  };
}
