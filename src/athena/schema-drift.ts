import type { EventColumn, HiveType } from "./event-columns.ts";

/** How the function's output and the table's columns disagree; all empty means no drift. */
export interface SchemaDrift {
  /** Members the output has and no column reads: the table would silently ignore them. */
  readonly unknownMembers: string[];
  /** Columns no line of the output fills: a field the function stopped writing (or never wrote). */
  readonly unusedColumns: string[];
  /** Members whose JSON value the column's type cannot hold (the SerDe would fail the query). */
  readonly typeMismatches: string[];
  /** Members that differ from a column's key only in case (the SerDe would read either into it). */
  readonly caseMismatches: string[];
}

/**
 * Compares `events` lines with the table's columns in both directions, and each value with its
 * column's type, so a field added to, removed from or retyped in the output cannot go unnoticed.
 */
export function findSchemaDrift(
  lines: readonly Readonly<Record<string, unknown>>[],
  columns: readonly EventColumn[],
): SchemaDrift {
  const byKey = new Map(columns.map((column) => [column.jsonKey, column]));
  const byLowerKey = new Map(columns.map((column) => [column.jsonKey.toLowerCase(), column]));
  const seen = new Set<string>();
  const unknown = new Set<string>();
  const caseMismatches = new Set<string>();
  const typeMismatches = new Set<string>();
  for (const line of lines) {
    for (const [key, value] of Object.entries(line)) {
      const column = byKey.get(key);
      if (column === undefined) {
        const other = byLowerKey.get(key.toLowerCase());
        if (other === undefined) unknown.add(key);
        else caseMismatches.add(`${key} (column ${other.jsonKey})`);
        continue;
      }
      seen.add(key);
      if (!fitsType(value, column.type)) typeMismatches.add(`${key}: ${describe(value)} in ${column.type}`);
    }
  }
  return {
    unknownMembers: [...unknown].sort(),
    unusedColumns: columns.map((column) => column.jsonKey).filter((key) => !seen.has(key)),
    typeMismatches: [...typeMismatches].sort(),
    caseMismatches: [...caseMismatches].sort(),
  };
}

/** True when the Hive JSON SerDe reads `value` into a column of `type` (null fits every type). */
export function fitsType(value: unknown, type: HiveType): boolean {
  if (value === null) return true;
  switch (type) {
    case "string":
      return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
    case "bigint":
      return Number.isSafeInteger(value);
    case "int":
      return Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31 - 1;
    case "array<string>":
      return Array.isArray(value) && value.every((item) => fitsType(item, "string"));
    case "map<string,string>":
      return (
        typeof value === "object" &&
        !Array.isArray(value) &&
        Object.values(value as object).every((item) => fitsType(item, "string"))
      );
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  return typeof value;
}
