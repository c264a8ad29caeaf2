/**
 * The columns of the Athena `events` table, one per member of an `events` line: the single list
 * that `resources/athena.yml` must match (a test checks it), that the local DuckDB view reads with,
 * and that the schema drift check compares the function's output to.
 */

/** The Hive types the table uses. */
export const HIVE_TYPES = ["string", "bigint", "int", "array<string>", "map<string,string>"] as const;
export type HiveType = (typeof HIVE_TYPES)[number];

/** Narrows a Glue column type to the ones the table uses. */
export function isHiveType(type: string): type is HiveType {
  return (HIVE_TYPES as readonly string[]).includes(type);
}

export interface EventColumn {
  /** The member name as the function writes it (JSON keys are case-sensitive, Glue columns are not). */
  readonly jsonKey: string;
  readonly type: HiveType;
  /** The column's Glue comment: what it holds and why it has this type. */
  readonly comment: string;
}

const VARIES = "string: its JSON type differs between engines";

/**
 * Every member an `events` line can carry. Fields whose JSON type differs between engines (see
 * das-format.md §6) are strings; numbers stay numbers only where every engine writes a number or null.
 */
export const EVENT_COLUMNS: readonly EventColumn[] = [
  { jsonKey: "eventTime", type: "string", comment: "added: ISO-8601 UTC event time, fixed width" },
  { jsonKey: "engine", type: "string", comment: "added: aurora-postgresql, aurora-mysql, oracle, sqlserver" },
  { jsonKey: "clusterId", type: "string", comment: "added: the record's cluster resource id (Aurora)" },
  { jsonKey: "instanceId", type: "string", comment: "added: the record's instance resource id" },
  { jsonKey: "type", type: "string", comment: "record or heartbeat" },
  { jsonKey: "class", type: "string", comment: "event class (PostgreSQL DDL/ROLE/READ..., MySQL MAIN/AUX)" },
  { jsonKey: "command", type: "string", comment: "command or action name" },
  { jsonKey: "commandText", type: "string", comment: "SQL text as the engine logged it" },
  { jsonKey: "paramList", type: "array<string>", comment: "bind values (PostgreSQL), else empty or null" },
  { jsonKey: "objectType", type: "string", comment: "object type (Oracle: the schema)" },
  { jsonKey: "objectName", type: "string", comment: "object name" },
  { jsonKey: "databaseName", type: "string", comment: "database" },
  { jsonKey: "dbUserName", type: "string", comment: "database user" },
  { jsonKey: "remoteHost", type: "string", comment: "client address" },
  { jsonKey: "remotePort", type: "string", comment: "client port" },
  { jsonKey: "clientApplication", type: "string", comment: "client program" },
  { jsonKey: "sessionId", type: "string", comment: VARIES },
  { jsonKey: "statementId", type: "string", comment: `${VARIES} (SQL Server: hex)` },
  { jsonKey: "substatementId", type: "int", comment: "sub-statement number (MySQL: 1 MAIN, 2 AUX)" },
  { jsonKey: "transactionId", type: "string", comment: "transaction id" },
  { jsonKey: "pid", type: "bigint", comment: "server process id" },
  { jsonKey: "rowCount", type: "bigint", comment: "rows affected or returned" },
  { jsonKey: "exitCode", type: "string", comment: `${VARIES} (PostgreSQL: SQLSTATE)` },
  { jsonKey: "errorMessage", type: "string", comment: "error text" },
  { jsonKey: "logTime", type: "string", comment: "event time as the engine wrote it" },
  { jsonKey: "startTime", type: "string", comment: "statement start, as the engine wrote it" },
  { jsonKey: "endTime", type: "string", comment: "statement end, as the engine wrote it" },
  { jsonKey: "serverHost", type: "string", comment: "server address or instance name" },
  { jsonKey: "serverType", type: "string", comment: "engine name as the engine wrote it" },
  { jsonKey: "serverVersion", type: "string", comment: "engine version" },
  { jsonKey: "serviceName", type: "string", comment: "service name" },
  { jsonKey: "dbProtocol", type: "string", comment: "database protocol" },
  { jsonKey: "netProtocol", type: "string", comment: "network protocol" },
  { jsonKey: "dbid", type: "string", comment: "Oracle database id" },
  {
    jsonKey: "engineNativeAuditFields",
    type: "map<string,string>",
    comment: "Oracle UNIFIED_AUDIT_TRAIL / SQL Server audit columns, values as text",
  },
];

/** The partition column projected from Firehose's `YYYY/MM/dd/HH` key layout. */
export const PARTITION_COLUMN = { name: "datehour", type: "string" } as const;

/** A column as Glue stores it (`AWS::Glue::Table` `Columns` entry). */
export interface GlueColumn {
  readonly Name: string;
  readonly Type: string;
  readonly Comment: string;
}

/** The `Columns` of the Glue table: lower-case names, as Athena sees them. */
export function glueColumns(columns: readonly EventColumn[] = EVENT_COLUMNS): GlueColumn[] {
  return columns.map((column) => ({
    Name: column.jsonKey.toLowerCase(),
    Type: column.type,
    Comment: column.comment,
  }));
}
