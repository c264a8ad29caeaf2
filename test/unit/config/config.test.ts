import { availableParallelism } from "node:os";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../../src/config/config.ts";
import { ConfigError } from "../../../src/config/errors.ts";
import { resolveResourceId } from "../../../src/decrypt/resource-id.ts";

const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("loadConfig accepted the configuration");
}

describe("loadConfig", () => {
  test("applies the documented defaults", () => {
    const config = loadConfig({ DAS_RESOURCE_ID: CLUSTER });
    expect(config).toMatchObject({
      resourceId: { id: CLUSTER, contextKey: "aws:rds:dbc-id" },
      resourceIdMap: [],
      outputBucket: undefined,
      outputPrefix: "decrypted/",
      outputFormat: "events",
      outputCompression: "gzip",
      includeHeartbeats: false,
      s3ForcePathStyle: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("DECRYPT_WORKERS auto: one worker per Lambda vCPU (memory / 1769 MB), none with one vCPU", () => {
    const cpus = availableParallelism();
    const workers = (env: Record<string, string>) =>
      loadConfig({ DAS_RESOURCE_ID: CLUSTER, ...env }).decryptWorkers;
    expect(workers({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1769" })).toBe(0);
    expect(workers({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "3538", DECRYPT_WORKERS: "auto" })).toBe(
      cpus >= 2 ? 2 : 0,
    );
    expect(workers({})).toBe(cpus >= 2 ? cpus : 0);
    expect(workers({ DECRYPT_WORKERS: "0", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "10240" })).toBe(0);
    expect(workers({ DECRYPT_WORKERS: "3" })).toBe(3);
  });

  test("a db- id selects the instance-level context aws:rds:db-id", () => {
    expect(loadConfig({ DAS_RESOURCE_ID: DB }).resourceId).toEqual({ id: DB, contextKey: "aws:rds:db-id" });
  });

  test.each([
    [{}, "DAS_RESOURCE_ID"],
    [{ DAS_RESOURCE_ID: "P74MFUJBI3PYA2N5L22YVVX3VY" }, "DAS_RESOURCE_ID"],
    [{ DAS_RESOURCE_ID: "my-cluster" }, "DAS_RESOURCE_ID"],
    [{ DAS_RESOURCE_ID_MAP: "[1,2]" }, "DAS_RESOURCE_ID_MAP"],
    [{ DAS_RESOURCE_ID_MAP: "{not json" }, "DAS_RESOURCE_ID_MAP"],
    [{ DAS_RESOURCE_ID_MAP: '{"raw/":"prod-cluster"}' }, 'DAS_RESOURCE_ID_MAP["raw/"]'],
    [{ DAS_RESOURCE_ID: CLUSTER, OUTPUT_FORMAT: "csv" }, "OUTPUT_FORMAT"],
    [{ DAS_RESOURCE_ID: CLUSTER, OUTPUT_COMPRESSION: "zstd" }, "OUTPUT_COMPRESSION"],
    [{ DAS_RESOURCE_ID: CLUSTER, INCLUDE_HEARTBEATS: "yes" }, "INCLUDE_HEARTBEATS"],
    [{ DAS_RESOURCE_ID: CLUSTER, OUTPUT_PREFIX: "" }, "OUTPUT_PREFIX"],
    [{ DAS_RESOURCE_ID: CLUSTER, DECRYPT_BATCH_RECORDS: "0" }, "DECRYPT_BATCH_RECORDS"],
    [{ DAS_RESOURCE_ID: CLUSTER, DECRYPT_WORKERS: "many" }, "DECRYPT_WORKERS"],
    [{ DAS_RESOURCE_ID: CLUSTER, DECRYPT_WORKERS: "-1" }, "DECRYPT_WORKERS"],
    [{ DAS_RESOURCE_ID: CLUSTER, UPLOAD_PART_SIZE_MB: "4" }, "UPLOAD_PART_SIZE_MB"],
  ])("rejects %j naming %s", (env, variable) => {
    const error = failure(env as Record<string, string>);
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(variable)).toBe(true);
  });

  test("an empty OUTPUT_PREFIX is allowed when the output goes to another bucket", () => {
    expect(
      loadConfig({ DAS_RESOURCE_ID: CLUSTER, OUTPUT_PREFIX: "", OUTPUT_BUCKET: "plain" }).outputPrefix,
    ).toBe("");
  });

  test("the resource id map picks the longest matching prefix and falls back to DAS_RESOURCE_ID", () => {
    const config = loadConfig({
      DAS_RESOURCE_ID: CLUSTER,
      DAS_RESOURCE_ID_MAP: JSON.stringify({ "raw/": "db-AAAA", "raw/oracle/": DB }),
    });
    const pick = (key: string) => resolveResourceId(key, config.resourceIdMap, config.resourceId)?.id;
    expect(pick("raw/oracle/2026/11/25/10/x")).toBe(DB);
    expect(pick("raw/other/x")).toBe("db-AAAA");
    expect(pick("elsewhere/x")).toBe(CLUSTER);
  });

  test("without a fallback, a key outside every mapped prefix has no resource id", () => {
    const config = loadConfig({ DAS_RESOURCE_ID_MAP: JSON.stringify({ "raw/a/": CLUSTER }) });
    expect(resolveResourceId("raw/b/x", config.resourceIdMap, config.resourceId)).toBeUndefined();
  });
});
