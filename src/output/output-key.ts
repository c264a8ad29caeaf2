import type { Config } from "../config/config.ts";

/**
 * The output key of a source key: a pure function of it, so a repeated notification overwrites
 * the same object with the same bytes. `OUTPUT_PREFIX` + source key, a trailing `.gz` of the source
 * dropped, `.gz` added when the output is compressed.
 */
export function outputKeyFor(
  sourceKey: string,
  config: Pick<Config, "outputPrefix" | "outputCompression">,
): string {
  const base = sourceKey.endsWith(".gz") ? sourceKey.slice(0, -3) : sourceKey;
  return `${config.outputPrefix}${base}${config.outputCompression === "gzip" ? ".gz" : ""}`;
}

/** True when writing the output of `key` would land on (or under) the output prefix itself. */
export function isOutputKey(
  bucket: string,
  key: string,
  config: Pick<Config, "outputBucket" | "outputPrefix">,
): boolean {
  return (
    (config.outputBucket ?? bucket) === bucket &&
    config.outputPrefix !== "" &&
    key.startsWith(config.outputPrefix)
  );
}
