import type { Command } from "commander";
import { type Config, loadConfig } from "../config/config.ts";
import type { CliIo } from "./io.ts";

/** Flags that override the function's configuration variables of the same meaning. */
export const CONFIG_FLAGS: readonly [flag: string, variable: string, description: string][] = [
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

/** Adds the configuration flags whose long name passes `keep` to a command. */
export function addConfigFlags(command: Command, keep: (flag: string) => boolean = () => true): void {
  for (const [flag, , description] of CONFIG_FLAGS.filter(([f]) => keep(f)))
    command.option(flag, description);
}

/**
 * The function's configuration with the flags applied (and `extra` last), and the environment it
 * was read from.
 * @throws ConfigError naming the variable (or the flag's variable) that is wrong.
 */
export function configFrom(
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
