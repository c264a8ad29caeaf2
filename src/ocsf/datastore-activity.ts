/**
 * One DAS activity event as an OCSF 1.1.0 Datastore Activity row (class 6005, category 6), the shape
 * Amazon Security Lake custom sources take. README.md beside this file has the field-by-field table.
 */
import { type EngineName, engineOf, eventTimeOf, toUtcIsoTime } from "../lines/normalize-event.ts";
import { type ActivityId, activityOf } from "./activity-of.ts";
import { type Endpoint, endpointOf, portOf } from "./endpoint-of.ts";
import { STATUS, statusOf } from "./status-of.ts";
import { type Unmapped, unmappedOf } from "./unmapped-of.ts";

export const OCSF_VERSION = "1.1.0";
export const PRODUCT_NAME = "das-decrypt";
/** What stands in for a value OCSF requires and the event does not carry. */
export const UNKNOWN = "unknown";
/** Longest `string_t` OCSF 1.1 allows (dictionary `max_len`); longer SQL is cut, the whole kept in `unmapped`. */
export const MAX_STRING = 65_535;

/** The RDS-managed service accounts (das-format.md §5), typed as System users. */
const SERVICE_USERS = new Set(["rdsadmin", "rdssec", "rdsproxyadmin"]);

export interface DatastoreActivity {
  activity_id: ActivityId;
  activity_name?: string;
  category_uid: 6;
  category_name: "Application Activity";
  class_uid: 6005;
  class_name: "Datastore Activity";
  type_uid: number;
  type_name: string;
  /** Datastore Type: Table when the event names an object, else Database. */
  type_id: 1 | 3;
  type: "Database" | "Table";
  severity_id: 1;
  severity: "Informational";
  status_id: 0 | 1 | 2;
  status: "Unknown" | "Success" | "Failure";
  status_code?: string;
  status_detail?: string;
  /** Epoch milliseconds, UTC. */
  time: number;
  start_time?: number;
  end_time?: number;
  timezone_offset: 0;
  metadata: {
    version: typeof OCSF_VERSION;
    product: {
      name: string;
      vendor_name: string;
      version?: string;
      feature: { name: string; version?: string };
    };
    profiles: string[];
    log_name?: string;
    log_provider: string;
    event_code?: string;
    original_time?: string;
  };
  cloud: { provider: "AWS"; region?: string; account?: { uid: string } };
  actor: { user: { name: string; type_id: 0 | 3; type?: "System" }; session?: { uid: string } };
  src_endpoint: Endpoint;
  dst_endpoint?: Endpoint;
  database: { name?: string; uid?: string; type_id: 1; type: "Relational" };
  table?: { name: string };
  query_info?: { uid?: string; name?: string; query_string: string; data?: string };
  unmapped?: Unmapped;
}

/** What is fixed for a whole deployment. */
export interface MapperOptions {
  /** AWS Region of the database (`cloud.region`). */
  readonly region?: string;
  /** AWS account id (`cloud.account.uid`). */
  readonly accountId?: string;
  /** das-decrypt's own version (`metadata.product.version`). */
  readonly productVersion?: string;
}

/** What the record around the event says. */
export interface RecordSource {
  readonly clusterId?: string | undefined;
  readonly instanceId?: string | undefined;
  /** `time` for an event that carries no readable time (epoch ms), e.g. the S3 object's. */
  readonly fallbackTimeMs: number;
}

/**
 * Builds the mapper once per deployment. The mapper is pure: one parsed DAS event (as RDS wrote it)
 * and its record give one row, or `undefined` for an event that is not an activity record (a
 * heartbeat). It never throws on odd field types: what it cannot place stays in `unmapped`.
 */
export function createDatastoreActivityMapper(
  options: MapperOptions = {},
): (event: Readonly<Record<string, unknown>>, source: RecordSource) => DatastoreActivity | undefined {
  const cloud: DatastoreActivity["cloud"] = { provider: "AWS" };
  if (options.region !== undefined) cloud.region = options.region;
  if (options.accountId !== undefined) cloud.account = { uid: options.accountId };
  return (event, source) => (event.type === "record" ? toRow(event, source, options, cloud) : undefined);
}

function toRow(
  event: Readonly<Record<string, unknown>>,
  source: RecordSource,
  options: MapperOptions,
  cloud: DatastoreActivity["cloud"],
): DatastoreActivity {
  const fields = eventFields(event);
  const { text } = fields;
  const engine = engineOf(event);
  const activity = activityOf(event, engine);
  const status = statusOf(event, engine, activity.id);
  const time = eventTimeOf(event);
  const row: DatastoreActivity = {
    activity_id: activity.id,
    ...(activity.name === undefined ? {} : { activity_name: activity.name }),
    category_uid: 6,
    category_name: "Application Activity",
    class_uid: 6005,
    class_name: "Datastore Activity",
    type_uid: 600500 + activity.id,
    type_name: `Datastore Activity: ${activity.id === 99 ? "Other" : activity.name}`,
    type_id: 1,
    type: "Database",
    severity_id: 1,
    severity: "Informational",
    status_id: STATUS[status],
    status,
    time: time === undefined ? source.fallbackTimeMs : Date.parse(time),
    timezone_offset: 0,
    metadata: metadataOf(fields, engine, source, options),
    // Each row its own objects: a consumer that changes one row changes no other.
    cloud: { ...cloud, ...(cloud.account === undefined ? {} : { account: { ...cloud.account } }) },
    actor: { user: userOf(text("dbUserName")) },
    src_endpoint: endpointOf(text("remoteHost"), "client") ?? { name: UNKNOWN },
    database: { type_id: 1, type: "Relational" },
  };
  const port = portOf(event.remotePort);
  if (port !== undefined) row.src_endpoint.port = fields.use("remotePort", port);
  for (const [key, column] of [
    ["startTime", "start_time"],
    ["endTime", "end_time"],
  ] as const) {
    const at = toUtcIsoTime(event[key]);
    if (at !== undefined) row[column] = fields.use(key, Date.parse(at));
  }
  const code = text("exitCode");
  if (code !== undefined) row.status_code = code;
  const detail = fields.fit("errorMessage");
  if (detail !== undefined) row.status_detail = detail;
  const session = text("sessionId");
  if (session !== undefined) row.actor.session = { uid: session };

  const server = endpointOf(text("serverHost"), "server");
  const service = text("serviceName");
  if (server !== undefined || service !== undefined || source.instanceId !== undefined) {
    row.dst_endpoint = { ...server };
    if (service !== undefined) row.dst_endpoint.svc_name = service;
    if (source.instanceId !== undefined) row.dst_endpoint.instance_uid = source.instanceId;
  }
  const databaseName = text("databaseName");
  const resource = source.clusterId ?? source.instanceId;
  if (databaseName !== undefined || resource === undefined) row.database.name = databaseName ?? UNKNOWN;
  if (resource !== undefined) row.database.uid = resource;
  const objectName = text("objectName");
  if (objectName !== undefined) {
    row.table = { name: objectName };
    row.type_id = 3;
    row.type = "Table";
  }
  const query = fields.fit("commandText");
  if (query !== undefined) {
    const statement = text("statementId");
    row.query_info = {
      query_string: query,
      ...(statement === undefined ? { name: UNKNOWN } : { uid: statement }),
    };
    const params = event.paramList;
    if (Array.isArray(params) && params.length > 0)
      row.query_info.data = fields.use("paramList", JSON.stringify(params));
  }
  if (Array.isArray(event.paramList) && event.paramList.length === 0) fields.use("paramList", undefined);
  const unmapped = unmappedOf(event, fields.used, fields.cut);
  if (unmapped !== undefined) row.unmapped = unmapped;
  return row;
}

/** Reads event members for the row and remembers which ones it placed, so the rest go to `unmapped`. */
function eventFields(event: Readonly<Record<string, unknown>>) {
  // `type` is always "record" here: the row's class says as much.
  const used = new Set<string>(["type"]);
  const cut = new Set<string>();
  const use = <T>(key: string, value: T): T => {
    used.add(key);
    return value;
  };
  /** A string or number member as text; null and blank count as absent (and as placed). */
  const text = (key: string): string | undefined => {
    const value = event[key];
    if (value === null || value === undefined || (typeof value === "string" && value.trim() === "")) {
      return use(key, undefined);
    }
    return typeof value === "string" || typeof value === "number" ? use(key, String(value)) : undefined;
  };
  /** {@link text} cut to OCSF's longest string; the whole value then stays in `unmapped` too. */
  const fit = (key: string): string | undefined => {
    const value = text(key);
    if (value === undefined || value.length <= MAX_STRING || [...value].length <= MAX_STRING) return value;
    cut.add(key);
    return [...value].slice(0, MAX_STRING).join("");
  };
  return { event, used, cut, use, text, fit };
}

type EventFields = ReturnType<typeof eventFields>;

function metadataOf(
  fields: EventFields,
  engine: EngineName | undefined,
  source: RecordSource,
  options: MapperOptions,
): DatastoreActivity["metadata"] {
  const feature: DatastoreActivity["metadata"]["product"]["feature"] = { name: engine ?? UNKNOWN };
  const serverVersion = fields.text("serverVersion");
  if (serverVersion !== undefined) feature.version = serverVersion;
  const metadata: DatastoreActivity["metadata"] = {
    version: OCSF_VERSION,
    product: {
      name: PRODUCT_NAME,
      vendor_name: PRODUCT_NAME,
      ...(options.productVersion === undefined ? {} : { version: options.productVersion }),
      feature,
    },
    profiles: ["cloud"],
    log_provider: "Amazon RDS Database Activity Streams",
  };
  const resource = source.clusterId ?? source.instanceId;
  // RDS names the Kinesis stream it writes the events to after the resource.
  if (resource !== undefined) metadata.log_name = `aws-rds-das-${resource}`;
  const command = fields.text("command");
  if (command !== undefined) metadata.event_code = command;
  // `time` comes from logTime, else startTime (eventTimeOf): that field as the engine wrote it.
  for (const key of ["logTime", "startTime"]) {
    const written = fields.event[key];
    if (toUtcIsoTime(written) !== undefined) {
      metadata.original_time = fields.use(key, written as string);
      break;
    }
  }
  return metadata;
}

function userOf(name: string | undefined): DatastoreActivity["actor"]["user"] {
  if (name === undefined) return { name: UNKNOWN, type_id: 0 };
  return SERVICE_USERS.has(name.toLowerCase()) ? { name, type_id: 3, type: "System" } : { name, type_id: 0 };
}
