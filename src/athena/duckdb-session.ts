import { DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";
import { SESSION_SETTINGS, TRINO_SHIMS } from "./duckdb-dialect.ts";

/** An in-memory DuckDB set up to run the saved Athena queries unchanged. */
export interface DuckDbSession {
  /** Runs `sql` with `?` parameters bound in order; BIGINT values come back as numbers. */
  query(sql: string, parameters?: readonly (string | number)[]): Promise<Record<string, unknown>[]>;
  close(): void;
}

/**
 * Opens an in-memory DuckDB with the UTC session and the Trino shims of `duckdb-dialect.ts`.
 * @throws Error from DuckDB when a setting or shim is refused.
 */
export async function openDuckDbSession(): Promise<DuckDbSession> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  for (const sql of [...SESSION_SETTINGS, ...TRINO_SHIMS.map((shim) => shim.sql)]) await connection.run(sql);
  return {
    query: async (sql, parameters = []) => {
      const reader = await connection.runAndReadAll(sql, parameters as DuckDBValue[]);
      return reader
        .getRowObjectsJS()
        .map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, plain(value)])));
    },
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

function plain(value: unknown): unknown {
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new RangeError("a BIGINT result does not fit a number");
    }
    return Number(value);
  }
  return value;
}
