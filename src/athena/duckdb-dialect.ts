/**
 * What it takes for DuckDB to run the saved Athena (Trino) queries unchanged: a few macros with the
 * Trino names and semantics, a UTC session, and a view that reads the function's output files with
 * the Glue table's columns and types. The query text itself is not rewritten.
 */

/**
 * Trino functions the saved queries use that DuckDB lacks or defines differently, as DuckDB macros.
 * Each keeps Trino's semantics for the values an `events` row holds.
 */
export const TRINO_SHIMS: readonly { readonly name: string; readonly sql: string }[] = [
  // Trino: parses ISO-8601 (Z or ±hh:mm) into a timestamp(3) with time zone: the same instant, cut
  // to milliseconds. Trino keeps the written zone for hour() and day_of_week() where DuckDB uses the
  // session's (UTC): the same for `eventtime` (always Z), not for a parameter written with an offset.
  {
    name: "from_iso8601_timestamp",
    sql: "CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS date_trunc('millisecond', CAST(s AS TIMESTAMPTZ))",
  },
  // Trino: ISO day of week, 1 = Monday … 7 = Sunday (DuckDB's dayofweek counts 0 = Sunday).
  { name: "day_of_week", sql: "CREATE OR REPLACE MACRO day_of_week(t) AS isodow(t)" },
  // Trino: true when the pattern matches anywhere in the string.
  { name: "regexp_like", sql: "CREATE OR REPLACE MACRO regexp_like(s, p) AS regexp_matches(s, p)" },
  // Trino: the map's value for the key, NULL when absent (DuckDB's element_at returns a list).
  { name: "element_at", sql: "CREATE OR REPLACE MACRO element_at(m, k) AS map_extract_value(m, k)" },
];

/** Session settings: Trino evaluates `hour()` of a `…Z` timestamp in UTC; DuckDB uses the session zone. */
export const SESSION_SETTINGS: readonly string[] = ["SET TimeZone = 'UTC'"];

/**
 * The DuckDB type that reads a JSON member the way the Hive JSON SerDe reads it into `hiveType`.
 * @throws Error on a Hive type the table does not use.
 */
export function duckDbType(hiveType: string): string {
  const simple: Record<string, string> = {
    string: "VARCHAR",
    bigint: "BIGINT",
    int: "INTEGER",
    boolean: "BOOLEAN",
    double: "DOUBLE",
  };
  const type = hiveType.replace(/\s+/g, "").toLowerCase();
  const found = simple[type];
  if (found !== undefined) return found;
  const array = /^array<(.+)>$/.exec(type);
  if (array?.[1] !== undefined) return `${duckDbType(array[1])}[]`;
  const map = /^map<([a-z]+),(.+)>$/.exec(type);
  if (map?.[1] !== undefined && map[2] !== undefined) {
    return `MAP(${duckDbType(map[1])}, ${duckDbType(map[2])})`;
  }
  throw new Error(`Hive type ${hiveType} has no DuckDB counterpart here`);
}

/** One output object, read from a local copy. */
export interface LocalObject {
  /** Path of the local copy. */
  readonly path: string;
  /** Its S3 key (for `"$path"`). */
  readonly key: string;
  /** The partition value Athena would read it under. */
  readonly partition: string;
}

export interface EventsViewOptions {
  readonly table: string;
  readonly bucket: string;
  /** Glue columns, in order (lower-case names). */
  readonly columns: readonly { readonly Name: string; readonly Type: string }[];
  readonly partitionColumn: string;
  /** The JSON member a column reads (the SerDe matches names case-insensitively, DuckDB does not). */
  readonly jsonKeyOf: (column: string) => string;
  readonly objects: readonly LocalObject[];
}

/**
 * The `CREATE VIEW` that shows local copies of output objects as the Glue table does: the same
 * columns and types, the partition column from the projection, and Athena's `"$path"`.
 * @throws Error when there is no object to read (DuckDB cannot read an empty file list).
 */
export function eventsViewSql(options: EventsViewOptions): string {
  if (options.objects.length === 0) throw new Error("no objects to read");
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const ident = (text: string) => `"${text.replace(/"/g, '""')}"`;
  const jsonColumns = options.columns
    .map((column) => `${quote(options.jsonKeyOf(column.Name))}: ${quote(duckDbType(column.Type))}`)
    .join(", ");
  const select = options.columns
    .map((column) => `j.${ident(options.jsonKeyOf(column.Name))} AS ${ident(column.Name)}`)
    .join(",\n  ");
  const files = options.objects
    .map((object) => `(${quote(object.path)}, ${quote(object.key)}, ${quote(object.partition)})`)
    .join(",\n  ");
  return `CREATE OR REPLACE VIEW ${ident(options.table)} AS
SELECT
  ${select},
  f.partition_value AS ${ident(options.partitionColumn)},
  ${quote(`s3://${options.bucket}/`)} || f.object_key AS "$path"
FROM read_json([${options.objects.map((object) => quote(object.path)).join(", ")}],
  format = 'newline_delimited', filename = true, columns = {${jsonColumns}}) AS j
JOIN (VALUES
  ${files}) AS f(local_path, object_key, partition_value) ON j.filename = f.local_path`;
}
