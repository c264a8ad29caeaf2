/**
 * The columns of a Datastore Activity row (`DatastoreActivity`) for Parquet and Arrow: the same
 * nesting as the OCSF JSON (Security Lake reads nested columns), one fixed type per column, every
 * column nullable. OCSF `integer_t` is INT32, `long_t` and `timestamp_t` INT64 (epoch milliseconds),
 * strings UTF-8, `metadata.profiles` a list of strings, `unmapped` a map of strings to strings.
 */
export type LeafType = "int32" | "int64" | "string" | "list<string>" | "map<string,string>";

export type Column =
  | { readonly name: string; readonly type: LeafType }
  | { readonly name: string; readonly type: "struct"; readonly fields: readonly Column[] };

const leaf = (name: string, type: LeafType = "string"): Column => ({ name, type });
const struct = (name: string, fields: readonly Column[]): Column => ({ name, type: "struct", fields });
const strings = (...names: string[]): Column[] => names.map((name) => leaf(name));

const endpoint = (name: string) =>
  struct(name, [
    ...strings("ip", "hostname", "name"),
    leaf("port", "int32"),
    ...strings("svc_name", "instance_uid"),
  ]);

/** Every column, in row order. */
export const DATASTORE_ACTIVITY_COLUMNS: readonly Column[] = [
  leaf("activity_id", "int32"),
  leaf("activity_name"),
  leaf("category_uid", "int32"),
  leaf("category_name"),
  leaf("class_uid", "int32"),
  leaf("class_name"),
  leaf("type_uid", "int64"),
  leaf("type_name"),
  leaf("type_id", "int32"),
  leaf("type"),
  leaf("severity_id", "int32"),
  leaf("severity"),
  leaf("status_id", "int32"),
  leaf("status"),
  leaf("status_code"),
  leaf("status_detail"),
  leaf("time", "int64"),
  leaf("start_time", "int64"),
  leaf("end_time", "int64"),
  leaf("timezone_offset", "int32"),
  struct("metadata", [
    leaf("version"),
    struct("product", [
      ...strings("name", "vendor_name", "version"),
      struct("feature", strings("name", "version")),
    ]),
    leaf("profiles", "list<string>"),
    ...strings("log_name", "log_provider", "event_code", "original_time"),
  ]),
  struct("cloud", [...strings("provider", "region"), struct("account", strings("uid"))]),
  struct("actor", [
    struct("user", [leaf("name"), leaf("type_id", "int32"), leaf("type")]),
    struct("session", strings("uid")),
  ]),
  endpoint("src_endpoint"),
  endpoint("dst_endpoint"),
  struct("database", [...strings("name", "uid"), leaf("type_id", "int32"), leaf("type")]),
  struct("table", strings("name")),
  struct("query_info", strings("uid", "name", "query_string", "data")),
  leaf("unmapped", "map<string,string>"),
];

/** The leaf columns with their dotted paths (`actor.user.name`), depth first. */
export function leafColumns(
  columns: readonly Column[] = DATASTORE_ACTIVITY_COLUMNS,
  prefix = "",
): { readonly path: string; readonly type: LeafType }[] {
  return columns.flatMap((column) =>
    column.type === "struct"
      ? leafColumns(column.fields, `${prefix}${column.name}.`)
      : [{ path: `${prefix}${column.name}`, type: column.type }],
  );
}
