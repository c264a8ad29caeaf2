import { ConfigError } from "../config/errors.ts";

/** The KMS encryption context key RDS binds a stream's data keys to. */
export type ContextKey = "aws:rds:dbc-id" | "aws:rds:db-id";

/** A DAS stream's resource id and the encryption context key it implies. */
export interface ResourceId {
  readonly id: string;
  readonly contextKey: ContextKey;
}

const RESOURCE_ID = /^(cluster|db)-[A-Za-z0-9]+$/;

/**
 * Parses an Aurora cluster resource id (`cluster-…`, context `aws:rds:dbc-id`) or an RDS instance
 * resource id (`db-…`, context `aws:rds:db-id`). The prefix decides, exactly as RDS does.
 * @throws ConfigError naming `variable` when the value is neither.
 */
export function parseResourceId(raw: string, variable: string): ResourceId {
  const match = RESOURCE_ID.exec(raw.trim());
  if (match === null) {
    throw new ConfigError(
      variable,
      `must be a DAS resource id: cluster-… (Aurora DbClusterResourceId) or db-… (RDS DbiResourceId), got "${raw}"`,
    );
  }
  return Object.freeze({
    id: match[0],
    contextKey: match[1] === "cluster" ? "aws:rds:dbc-id" : "aws:rds:db-id",
  });
}

/** The encryption context KMS needs to decrypt this stream's data keys. */
export function encryptionContextOf(resource: ResourceId): Record<string, string> {
  return { [resource.contextKey]: resource.id };
}

/**
 * Picks the resource id for a source key: the longest matching prefix of the map, else the default.
 * Returns `undefined` when neither applies (a configuration gap the caller reports).
 */
export function resolveResourceId(
  key: string,
  map: readonly (readonly [string, ResourceId])[],
  fallback: ResourceId | undefined,
): ResourceId | undefined {
  for (const [prefix, id] of map) if (key.startsWith(prefix)) return id;
  return fallback;
}
