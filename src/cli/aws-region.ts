import { ConfigError } from "../config/errors.ts";

/**
 * Resolves the region an SDK client will call, before any call: without one the SDK fails every
 * request with a bare "Region is missing", deep inside the first object.
 * @throws ConfigError naming AWS_REGION.
 */
export async function requireRegion(client: { config: { region: () => Promise<string> } }): Promise<void> {
  try {
    await client.config.region();
  } catch {
    throw new ConfigError(
      "AWS_REGION",
      "is not set and no profile gives a region: export AWS_REGION=<the region of the bucket and the stream>, or set one with `aws configure`",
    );
  }
}
