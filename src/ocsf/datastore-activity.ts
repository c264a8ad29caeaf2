/**
 * One DAS activity event as an OCSF 1.1.0 Datastore Activity row (class 6005, category 6), the shape
 * Amazon Security Lake custom sources take. README.md beside this file has the field-by-field table.
 */
import { type EngineName, engineOf, eventTimeOf, toUtcIsoTime } from "../lines/normalize-event.ts";
import { ACTIVITY, type ActivityId, activityOf } from "./activity-of.ts";
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
  /** Members the event's line carries that are not the event's (left out of `unmapped`). */
  readonly appended?: readonly string[];
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
  if (options.accountId !== undefined) cloud.account = Object.freeze({ uid: options.accountId });
  Object.freeze(cloud);
  const shared = new SharedValues();
  return (event, source) =>
    event.type === "record" ? toRow(event, source, options, cloud, shared) : undefined;
}

/** Cached values at most, per kind, before a cache starts again. */
const SHARED_LIMIT = 4096;
/** Longer strings are rarely repeated: they are not looked up. */
const SHARED_STRING_LENGTH = 64;

/**
 * What rows repeat, held once: equal sub-objects (frozen, so no row can change another's) and short
 * strings. A row waits in memory for its Parquet row group, long enough to outlive V8's young
 * generation; sharing what repeats (the user, the endpoints, the database, the product) keeps that
 * to what differs from row to row.
 */
class SharedValues {
  readonly #objects = new Map<string, object>();
  readonly #strings = new Map<string, string>();

  object<T extends object>(key: string, make: () => T): T {
    let value = this.#objects.get(key) as T | undefined;
    if (value === undefined) {
      if (this.#objects.size >= SHARED_LIMIT) this.#objects.clear();
      value = deepFreeze(make());
      this.#objects.set(key, value);
    }
    return value;
  }

  /** One copy of each short string (a property, so it can be passed on as it is). */
  readonly string = (value: string): string => {
    if (value.length > SHARED_STRING_LENGTH) return value;
    const known = this.#strings.get(value);
    if (known !== undefined) return known;
    if (this.#strings.size >= SHARED_LIMIT) this.#strings.clear();
    this.#strings.set(value, value);
    return value;
  };
}

/**
 * The cache key of a kind of sub-object and the values it is made from: each value written with its
 * length, so no two lists of values give one key (an absent value, `"undefined"` and values that
 * hold the separator included).
 */
function keyOf(kind: string, ...values: (string | number | undefined)[]): string {
  let key = kind;
  for (const value of values) {
    if (value === undefined) key += "|-";
    else {
      const text = String(value);
      key += `|${text.length}:${text}`;
    }
  }
  return key;
}

function deepFreeze<T extends object>(value: T): T {
  for (const member of Object.values(value)) {
    if (typeof member === "object" && member !== null) deepFreeze(member);
  }
  return Object.freeze(value);
}

/** `type_name` per `activity_id`: the class's caption and the activity's. */
const TYPE_NAMES = new Map<number, string>(
  Object.entries(ACTIVITY).map(([name, id]) => [id, `Datastore Activity: ${name}`]),
);

function toRow(
  event: Readonly<Record<string, unknown>>,
  source: RecordSource,
  options: MapperOptions,
  cloud: DatastoreActivity["cloud"],
  shared: SharedValues,
): DatastoreActivity {
  const fields = eventFields(event, source.appended);
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
    type_name: TYPE_NAMES.get(activity.id) as string,
    type_id: 1,
    type: "Database",
    severity_id: 1,
    severity: "Informational",
    status_id: STATUS[status],
    status,
    time: time === undefined ? source.fallbackTimeMs : Date.parse(time),
    timezone_offset: 0,
    metadata: metadataOf(fields, engine, source, options, shared),
    cloud,
    actor: actorOf(text("dbUserName"), text("sessionId"), shared),
    src_endpoint: clientOf(text("remoteHost"), fields, shared),
    database: databaseOf(text("databaseName"), source.clusterId ?? source.instanceId, shared),
  };
  for (const [key, column] of [
    ["startTime", "start_time"],
    ["endTime", "end_time"],
  ] as const) {
    const at = toUtcIsoTime(event[key]);
    if (at !== undefined) row[column] = fields.use(key, Date.parse(at));
  }
  const code = text("exitCode");
  if (code !== undefined) row.status_code = shared.string(code);
  const detail = fields.fit("errorMessage");
  if (detail !== undefined) row.status_detail = detail;

  const serverHost = text("serverHost");
  const service = text("serviceName");
  const instance = source.instanceId;
  if (serverHost !== undefined || service !== undefined || instance !== undefined) {
    row.dst_endpoint = shared.object(keyOf("server", serverHost, service, instance), () => {
      const server: Endpoint = { ...endpointOf(serverHost, "server") };
      if (service !== undefined) server.svc_name = service;
      if (instance !== undefined) server.instance_uid = instance;
      return server;
    });
  }
  const objectName = text("objectName");
  if (objectName !== undefined) {
    row.table = shared.object(keyOf("table", objectName), () => ({ name: objectName }));
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
  const unmapped = unmappedOf(event, fields.used, fields.cut, shared.string);
  if (unmapped !== undefined) row.unmapped = unmapped;
  return row;
}

function actorOf(
  name: string | undefined,
  session: string | undefined,
  shared: SharedValues,
): DatastoreActivity["actor"] {
  return shared.object(keyOf("actor", name, session), () =>
    session === undefined ? { user: userOf(name) } : { user: userOf(name), session: { uid: session } },
  );
}

/** `src_endpoint`, the client: its host and port (`remotePort` counts as placed when it is a port). */
function clientOf(host: string | undefined, fields: EventFields, shared: SharedValues): Endpoint {
  const port = portOf(fields.event.remotePort);
  if (port !== undefined) fields.use("remotePort", port);
  return shared.object(keyOf("client", host, port), () => {
    const client = endpointOf(host, "client") ?? { name: UNKNOWN };
    if (port !== undefined) client.port = port;
    return client;
  });
}

function databaseOf(
  name: string | undefined,
  resource: string | undefined,
  shared: SharedValues,
): DatastoreActivity["database"] {
  return shared.object(keyOf("database", name, resource), () => {
    const database: DatastoreActivity["database"] = { type_id: 1, type: "Relational" };
    if (name !== undefined || resource === undefined) database.name = name ?? UNKNOWN;
    if (resource !== undefined) database.uid = resource;
    return database;
  });
}

/** Reads event members for the row and remembers which ones it placed, so the rest go to `unmapped`. */
function eventFields(event: Readonly<Record<string, unknown>>, appended: readonly string[] = []) {
  // `type` is always "record" here: the row's class says as much.
  const used = new Set<string>(["type", ...appended]);
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

/** The profiles every row declares (shared, frozen). */
const PROFILES: string[] = Object.freeze(["cloud"]) as string[];

function metadataOf(
  fields: EventFields,
  engine: EngineName | undefined,
  source: RecordSource,
  options: MapperOptions,
  shared: SharedValues,
): DatastoreActivity["metadata"] {
  const serverVersion = fields.text("serverVersion");
  const product = shared.object(keyOf("product", engine, serverVersion), () => {
    const feature: DatastoreActivity["metadata"]["product"]["feature"] = { name: engine ?? UNKNOWN };
    if (serverVersion !== undefined) feature.version = serverVersion;
    return {
      name: PRODUCT_NAME,
      vendor_name: PRODUCT_NAME,
      ...(options.productVersion === undefined ? {} : { version: options.productVersion }),
      feature,
    };
  });
  const metadata: DatastoreActivity["metadata"] = {
    version: OCSF_VERSION,
    product,
    profiles: PROFILES,
    log_provider: "Amazon RDS Database Activity Streams",
  };
  const resource = source.clusterId ?? source.instanceId;
  // RDS names the Kinesis stream it writes the events to after the resource.
  if (resource !== undefined) metadata.log_name = shared.string(`aws-rds-das-${resource}`);
  const command = fields.text("command");
  if (command !== undefined) metadata.event_code = shared.string(command);
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
