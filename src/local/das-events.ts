/**
 * Activity events shaped like each engine's DAS output (see das-format.md §6): field names, value
 * types and quirks as RDS writes them, with a seeded generator so fixtures are reproducible.
 */

export type Engine = "aurora-postgresql" | "aurora-mysql" | "oracle" | "sqlserver";
export const ENGINES: readonly Engine[] = ["aurora-postgresql", "aurora-mysql", "oracle", "sqlserver"];

/** DAS record `version` per engine. */
export const RECORD_VERSION: Record<Engine, string> = {
  "aurora-postgresql": "1.1",
  "aurora-mysql": "1.2",
  oracle: "1.3",
  sqlserver: "1.3",
};

export type Event = Record<string, unknown>;

/** A small deterministic PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Statement {
  readonly command: string;
  readonly pgClass: string;
  readonly text: string;
  readonly object: string | null;
}

const STATEMENTS: readonly Statement[] = [
  {
    command: "SELECT",
    pgClass: "READ",
    text: "SELECT id, email FROM customers WHERE id = $1",
    object: "customers",
  },
  {
    command: "SELECT",
    pgClass: "READ",
    text: "SELECT count(*) FROM orders WHERE created_at > now() - interval '1 day'",
    object: "orders",
  },
  {
    command: "SELECT",
    pgClass: "READ",
    text: "SELECT * FROM payroll WHERE employee_id = $1",
    object: "payroll",
  },
  {
    command: "INSERT",
    pgClass: "WRITE",
    text: "INSERT INTO orders (customer_id, total) VALUES ($1, $2)",
    object: "orders",
  },
  {
    command: "UPDATE",
    pgClass: "WRITE",
    text: "UPDATE customers SET email = $1 WHERE id = $2",
    object: "customers",
  },
  {
    command: "DELETE",
    pgClass: "WRITE",
    text: "DELETE FROM sessions WHERE expires_at < now()",
    object: "sessions",
  },
  {
    command: "CREATE TABLE",
    pgClass: "DDL",
    text: "CREATE TABLE audit_tmp (id int primary key, note text)",
    object: "audit_tmp",
  },
  {
    command: "ALTER TABLE",
    pgClass: "DDL",
    text: "ALTER TABLE customers ADD COLUMN phone text",
    object: "customers",
  },
  { command: "DROP TABLE", pgClass: "DDL", text: "DROP TABLE audit_tmp", object: "audit_tmp" },
  { command: "GRANT", pgClass: "ROLE", text: "GRANT SELECT ON payroll TO analyst", object: "payroll" },
  {
    command: "REVOKE",
    pgClass: "ROLE",
    text: "REVOKE UPDATE ON customers FROM analyst",
    object: "customers",
  },
  {
    command: "CREATE ROLE",
    pgClass: "ROLE",
    text: "CREATE ROLE contractor LOGIN PASSWORD '********'",
    object: null,
  },
];

const USERS = ["app_user", "app_user", "app_user", "analyst", "dba_alice", "rdsadmin"] as const;
const HOSTS = ["10.0.12.34", "10.0.12.35", "172.31.20.245", "203.0.113.7"] as const;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/** `2026-11-25 10:15:42.123456` from a millisecond time (plus a pseudo microsecond part). */
function sqlTime(ms: number, micros: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}${pad(micros % 1000, 3)}`;
}

export interface EventContext {
  readonly random: () => number;
  /** Event time, in epoch milliseconds. */
  readonly timeMs: number;
  readonly sequence: number;
}

/**
 * Builds `count` activity events of `engine`. In about one call in 15 the first event is a failed
 * login; in one in 13 of the others (chosen by `sequence`, so no extra random draw) a successful one.
 */
export function buildEvents(engine: Engine, count: number, context: EventContext): Event[] {
  const { random } = context;
  const failedLogin = random() < 1 / 15;
  const login = !failedLogin && context.sequence % 13 === 7;
  const build = BUILDERS[engine];
  const events: Event[] = [];
  for (let i = 0; i < count; i += 1) {
    const statement = pick(random, STATEMENTS);
    const user = pick(random, USERS);
    const host = pick(random, HOSTS);
    const eventContext = { ...context, sequence: context.sequence + i };
    const event = build(eventContext, statement, user, host, failedLogin && i === 0);
    events.push(login && i === 0 ? SUCCESSFUL_LOGIN[engine](event, user, host) : event);
  }
  if (engine === "aurora-mysql" && count > 1 && random() < 0.5) {
    // MAIN and AUX events of one statement arrive in any order.
    events.reverse();
  }
  return events;
}

type Builder = (
  context: EventContext,
  statement: Statement,
  user: string,
  host: string,
  failedLogin: boolean,
) => Event;

const BUILDERS: Record<Engine, Builder> = {
  "aurora-postgresql": ({ timeMs, sequence }, statement, user, host, failed) => {
    const time = `${sqlTime(timeMs, sequence)}+00`;
    return {
      logTime: time,
      statementId: sequence + 1,
      substatementId: 1,
      objectType: failed ? null : "TABLE",
      command: failed ? "ERROR" : statement.command,
      objectName: failed ? null : statement.object,
      databaseName: "appdb",
      dbUserName: failed ? "postgres" : user,
      remoteHost: host,
      remotePort: String(40000 + (sequence % 20000)),
      sessionId: `6240610c.${(0x1dda + (sequence % 97)).toString(16)}`,
      rowCount: failed ? null : sequence % 50,
      commandText: failed ? null : statement.text,
      paramList: failed || !statement.text.includes("$1") ? [] : [String(sequence), "x@example.com"],
      pid: 7000 + (sequence % 900),
      clientApplication: failed ? "" : "psql",
      exitCode: failed ? "28P01" : null,
      class: failed ? "MISC" : statement.pgClass,
      serverVersion: "16.4.1",
      serverType: "PostgreSQL",
      serviceName: "Amazon Aurora PostgreSQL-Compatible edition",
      serverHost: "172.31.34.221",
      netProtocol: "TCP",
      dbProtocol: "Postgres 3.0",
      type: "record",
      startTime: time,
      errorMessage: failed ? 'password authentication failed for user "postgres"' : null,
    };
  },
  "aurora-mysql": ({ timeMs, sequence }, statement, user, host, failed) => {
    const time = `${sqlTime(timeMs, sequence)}+00`;
    const aux = sequence % 2 === 1;
    return {
      logTime: time,
      type: "record",
      clientApplication: null,
      pid: 2830 + (sequence % 40),
      dbUserName: failed ? "admin" : user,
      databaseName: "appdb",
      remoteHost: host,
      remotePort: String(50000 + (sequence % 10000)),
      command: failed ? "FAILED_CONNECT" : "QUERY",
      commandText: failed ? "" : statement.text.replace(/\$\d/g, "?"),
      paramList: null,
      objectType: failed ? "" : "TABLE",
      objectName: failed ? "" : statement.object,
      statementId: Math.floor(sequence / 2) + 1,
      substatementId: aux ? 2 : 1,
      exitCode: failed ? "1045" : aux ? "" : "0",
      sessionId: String(20 + (sequence % 13)),
      rowCount: aux ? 0 : sequence % 40,
      serverHost: "aurora-mysql-instance-1",
      serverType: "MySQL",
      serviceName: "Amazon Aurora MySQL",
      serverVersion: "MySQL 8.0.39",
      startTime: time,
      endTime: time,
      transactionId: String(sequence),
      dbProtocol: "MySQL",
      netProtocol: "TCP",
      errorMessage: failed ? "Access denied for user 'admin'" : "",
      class: aux ? "AUX" : "MAIN",
    };
  },
  oracle: ({ timeMs, sequence }, statement, user, host, failed) => ({
    class: "Standard",
    clientApplication: "sqlplus@ip-10-0-12-34 (TNS V1-V3)",
    command: failed ? "LOGON" : statement.command,
    commandText: failed ? null : statement.text.replace(/\$(\d)/g, ":$1"),
    dbid: "1559204751",
    databaseName: "ORCL",
    dbProtocol: "oracle",
    dbUserName: failed ? "ADMIN" : user.toUpperCase(),
    endTime: null,
    errorMessage: null,
    exitCode: failed ? 1017 : 0,
    logTime: sqlTime(timeMs, sequence),
    netProtocol: "tcp",
    objectName: failed ? null : (statement.object?.toUpperCase() ?? null),
    objectType: failed ? null : "APPSCHEMA",
    paramList: [],
    pid: 17900 + (sequence % 50),
    remoteHost: host,
    remotePort: String(31000 + (sequence % 1000)),
    rowCount: null,
    serverHost: "172.31.47.110",
    serverType: "oracle",
    serverVersion: "19.0.0.0.ru-2024-10.rur-2024-10.r1.EE.1",
    serviceName: "oracle-ee",
    sessionId: 557000 + (sequence % 300),
    startTime: null,
    statementId: sequence + 1,
    substatementId: null,
    transactionId: failed ? null : `0B00${pad(sequence % 100)}00A1C2000000`,
    engineNativeAuditFields: {
      UNIFIED_AUDIT_POLICIES: "DAS_POLICY_ALL",
      FGA_POLICY_NAME: null,
      DV_OBJECT_STATUS: null,
      SYSTEM_PRIVILEGE_USED: failed ? null : "SELECT ANY TABLE",
      OLS_LABEL_COMPONENT_TYPE: null,
      XS_SESSIONID: null,
      ADDITIONAL_INFO: null,
      INSTANCE_ID: 1,
      RETURN_CODE: failed ? 1017 : 0,
    },
    type: "record",
  }),
  sqlserver: ({ timeMs, sequence }, statement, user, host, failed) => ({
    class: failed ? "LOGIN" : "TABLE",
    command: failed ? "LOGIN FAILED" : statement.command,
    commandText: failed
      ? `Login failed for user '${user}'. Reason: Password did not match that for the login provided. [CLIENT: ${host}]`
      : statement.text.replace(/\$(\d)/g, "@p$1"),
    databaseName: failed ? "" : "appdb",
    dbProtocol: "SQLSERVER",
    dbUserName: user,
    endTime: null,
    errorMessage: null,
    exitCode: failed ? 0 : 1,
    logTime: `${sqlTime(timeMs, sequence)}8+00`,
    netProtocol: null,
    objectName: failed ? "" : statement.object,
    objectType: failed ? "LOGIN" : "TABLE",
    paramList: null,
    pid: null,
    remoteHost: host,
    remotePort: null,
    rowCount: 0,
    serverHost: "172.31.30.159",
    serverType: "SQLSERVER",
    serverVersion: "16.00.4135.4.v1",
    serviceName: "sqlserver-ee",
    sessionId: 50 + (sequence % 30),
    startTime: null,
    statementId: `0x${(0x1eb0d1808d34a94bn + BigInt(sequence)).toString(16)}9d3dcf5432750f02`,
    substatementId: 1,
    transactionId: String(sequence * 3),
    type: "record",
    engineNativeAuditFields: {
      target_database_principal_id: 0,
      target_server_principal_id: 0,
      target_database_principal_name: "",
      server_principal_id: failed ? 0 : 267,
      user_defined_information: "",
      response_rows: 0,
      database_principal_name: failed ? "" : "dbo",
      target_server_principal_name: "",
      schema_name: failed ? "" : "dbo",
      is_column_permission: false,
      object_id: failed ? 0 : 901578250,
      server_instance_name: "EC2AMAZ-NFUJJNO",
      target_server_principal_sid: null,
      additional_information: "",
      duration_milliseconds: 0,
      permission_bitmask: "0x00000000000000000000000000000000",
      data_sensitivity_information: "",
      session_server_principal_name: user,
      connection_id: "AD3A5084-FB83-45C1-8334-E923459A8109",
      audit_schema_version: 1,
      database_principal_id: failed ? 0 : 1,
      server_principal_sid: null,
      user_defined_event_id: 0,
      host_name: "EC2AMAZ-NFUJJNO",
      action_id: failed ? "LGIF" : "SL",
    },
  }),
};

/** A successful login as each engine reports it, made from an ordinary event of the same session. */
const SUCCESSFUL_LOGIN: Record<Engine, (event: Event, user: string, host: string) => Event> = {
  "aurora-postgresql": (event) => ({
    ...event,
    command: "CONNECT",
    class: "MISC",
    objectType: null,
    objectName: null,
    commandText: null,
    paramList: [],
    rowCount: null,
  }),
  "aurora-mysql": (event) => ({
    ...event,
    command: "CONNECT",
    class: "MAIN",
    substatementId: 1,
    commandText: "",
    objectType: "",
    objectName: "",
    exitCode: "0",
    rowCount: 0,
  }),
  oracle: (event) => ({
    ...event,
    command: "LOGON",
    commandText: null,
    objectType: null,
    objectName: null,
    transactionId: null,
    exitCode: 0,
  }),
  sqlserver: (event, user, host) => ({
    ...event,
    class: "LOGIN",
    command: "LOGIN SUCCEEDED",
    commandText: `Login succeeded for user '${user}'. Connection made using SQL Server authentication. [CLIENT: ${host}]`,
    databaseName: "",
    objectName: "",
    objectType: "LOGIN",
    exitCode: 1,
    engineNativeAuditFields: {
      ...(event.engineNativeAuditFields as Record<string, unknown>),
      object_id: 0,
      schema_name: "",
      action_id: "LGIS",
    },
  }),
};
