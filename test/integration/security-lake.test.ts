/**
 * SECURITY_LAKE_BUCKET: each object's events also as OCSF 1.1 Datastore Activity rows in Parquet,
 * under Security Lake's custom-source layout. The files are read by DuckDB (a Parquet reader we did
 * not write), every row is checked against the class as the OCSF v1.1.0 files define it, and failed
 * logins counted from the rows equal the saved Athena query's count over the NDJSON output.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { namedQuery } from "../../src/athena/athena-template.ts";
import { type DuckDbSession, openDuckDbSession } from "../../src/athena/duckdb-session.ts";
import { ENGINES } from "../../src/local/das-events.ts";
import { buildFirehoseObject, type FixtureOptions } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import type { ObjectSummary } from "../../src/process-object.ts";
import { createEventsView } from "../support/events-view.ts";
import { CapturingLog, getBytes, handlerFor, listKeys, putObject } from "../support/harness.ts";
import { loadEventClass, schemaDirectory, validateEvent } from "../support/ocsf-schema.ts";

const BUCKET = "das-source";
const LAKE = "aws-security-data-lake-eu-west-1-example";
const ACCOUNT = "111122223333";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";
const schema = loadEventClass(
  schemaDirectory(fileURLToPath(new URL("../fixtures/ocsf-1.1.0", import.meta.url))),
  "datastore_activity",
);

let stack: LocalStack;
let db: DuckDbSession;
let root: string;

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  stack.createBucket(LAKE);
  db = await openDuckDbSession();
  root = await mkdtemp(join(tmpdir(), "security-lake-"));
});
afterAll(async () => {
  db?.close();
  await stack?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

const LAKE_ENV = {
  SECURITY_LAKE_BUCKET: LAKE,
  SECURITY_LAKE_SOURCE: "das-decrypt",
  SECURITY_LAKE_ACCOUNT_ID: ACCOUNT,
};

/** Runs the handler on a generated object; its summary and where its files were copied locally. */
async function decrypt(key: string, options: FixtureOptions, env: Record<string, string> = {}) {
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, options);
  const etag = await putObject(stack, BUCKET, key, fixture.body);
  const { handler, log } = handlerFor(stack, { DAS_RESOURCE_ID: options.resourceId, ...LAKE_ENV, ...env });
  const result = (await handler(s3Notification(BUCKET, key, etag, fixture.body.length))) as {
    objects: ObjectSummary[];
  };
  const summary = result.objects[0] as ObjectSummary;
  const files: string[] = [];
  for (const lakeKey of summary.securityLake?.keys ?? []) {
    const path = join(root, LAKE, lakeKey);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await getBytes(stack, LAKE, lakeKey));
    files.push(path);
  }
  const outputPath = join(root, BUCKET, summary.outputKey);
  await mkdir(dirname(outputPath), { recursive: true });
  await writeFile(outputPath, await getBytes(stack, BUCKET, summary.outputKey));
  return { fixture, summary, files, outputPath, log };
}

/** The rows of Parquet files as DuckDB reads them, as OCSF JSON (nulls, which mean absent, left out). */
async function rowsOf(files: readonly string[]): Promise<Record<string, unknown>[]> {
  const list = files.map((file) => `'${file}'`).join(", ");
  const rows = await db.query(
    `SELECT to_json(t)::VARCHAR AS j FROM read_parquet([${list}], hive_partitioning = false) t`,
  );
  return rows.map((row) => withoutNulls(JSON.parse(String(row.j))) as Record<string, unknown>);
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value)
    .filter(([, member]) => member !== null)
    .map(([name, member]) => [name, withoutNulls(member)]);
  return Object.fromEntries(entries);
}

const found: Record<string, { files: string[]; outputPath: string; outputKey: string }> = {};

describe("OCSF rows in Parquet, in Security Lake's custom-source layout, for every engine", () => {
  for (const engine of ENGINES) {
    test(engine, async () => {
      const resourceId = engine.startsWith("aurora") ? CLUSTER : DB;
      const key = `raw/2026/11/25/10/${engine}-stream-1-2026-11-25-10-00-00-a1b2`;
      const { fixture, summary, files, outputPath, log } = await decrypt(key, {
        engine,
        resourceId,
        records: 120,
        eventsPerRecord: 3,
        heartbeatEvery: 8,
        seed: 23,
      });
      expect(summary.securityLake?.keys).toEqual([
        `ext/das-decrypt/region=us-east-1/accountId=${ACCOUNT}/eventDay=20261125/${engine}-stream-1-2026-11-25-10-00-00-a1b2.parquet`,
      ]);
      expect(summary.securityLake?.rows).toBe(summary.events);
      const rows = await rowsOf(files);
      expect(rows).toHaveLength(summary.events);
      for (const row of rows) {
        const problems = validateEvent(schema, row).filter((finding) => finding.level === "error");
        expect(problems, JSON.stringify(row)).toEqual([]);
        expect(row).toMatchObject({
          class_uid: 6005,
          category_uid: 6,
          metadata: { version: "1.1.0", product: { name: "das-decrypt", feature: { name: engine } } },
          cloud: { provider: "AWS", region: "us-east-1", account: { uid: ACCOUNT } },
        });
      }
      // Every event a row: as many, in the same order, with the same users.
      const events = fixture.records.flatMap((record) =>
        record.databaseActivityEventList.filter((event) => event.type === "record"),
      );
      expect(rows.map((row) => (row.actor as { user: { name: string } }).user.name)).toEqual(
        events.map((event) => String(event.dbUserName ?? "") || "unknown"),
      );
      expect(log.text()).not.toContain("failed");
      found[engine] = { files, outputPath, outputKey: summary.outputKey };
    });
  }

  test("failed logins per user from the OCSF rows equal the saved query's count over the NDJSON output", async () => {
    expect(Object.keys(found).sort()).toEqual([...ENGINES].sort());
    const template = await createEventsView(
      db,
      BUCKET,
      Object.values(found).map(({ outputPath, outputKey }) => ({ key: outputKey, path: outputPath })),
    );
    const fromNdjson = await db.query(namedQuery(template, "failed-logins-by-user-and-host").queryString, [
      "2026/11/25/00",
      "2026/11/25/23",
    ]);
    const expected = new Map<string, number>();
    for (const row of fromNdjson) {
      const id = `${String(row.engine)} ${String(row.dbusername)}`;
      expected.set(id, (expected.get(id) ?? 0) + Number(row.failed_logins));
    }
    for (const engine of ENGINES) expect([...expected.keys()].some((id) => id.startsWith(engine))).toBe(true);
    const list = Object.values(found)
      .flatMap(({ files }) => files)
      .map((file) => `'${file}'`)
      .join(", ");
    const fromOcsf = await db.query(
      `SELECT metadata.product.feature.name AS engine, actor.user.name AS username, count(*) AS n
       FROM read_parquet([${list}])
       WHERE class_uid = 6005 AND activity_id = 3 AND status_id = 2
       GROUP BY ALL`,
    );
    expect(
      new Map(fromOcsf.map((row) => [`${String(row.engine)} ${String(row.username)}`, Number(row.n)])),
    ).toEqual(expected);
  });
});

describe("files per event day, nothing for an object without events, filters and redaction apply", () => {
  test("an object whose events cross midnight gives one file per event day", async () => {
    const key = "raw/2026/11/25/23/midnight-stream-1-2026-11-25-23-59-59-c3d4";
    const { summary, files } = await decrypt(key, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 60,
      eventsPerRecord: 2,
      startMs: Date.UTC(2026, 10, 25, 23, 59, 58, 500),
    });
    expect(summary.securityLake?.keys.map((k) => k.split("/")[4])).toEqual([
      "eventDay=20261125",
      "eventDay=20261126",
    ]);
    const days = await db.query(
      `SELECT strftime(make_timestamp(time * 1000), '%Y%m%d') AS day, count(*) AS n, min(filename) AS file
       FROM read_parquet([${files.map((f) => `'${f}'`).join(", ")}], filename = true) GROUP BY day ORDER BY day`,
    );
    expect(days.map((row) => [row.day, String(row.file).includes(`eventDay=${String(row.day)}`)])).toEqual([
      ["20261125", true],
      ["20261126", true],
    ]);
    expect(days.reduce((n, row) => n + Number(row.n), 0)).toBe(summary.events);
  });

  test("an object of heartbeats only writes no Parquet file", async () => {
    const key = "raw/2026/11/25/11/quiet-stream-1-2026-11-25-11-00-00-e5f6";
    const before = await listKeys(stack, LAKE);
    const { summary } = await decrypt(key, {
      engine: "aurora-mysql",
      resourceId: CLUSTER,
      records: 10,
      heartbeatEvery: 1,
    });
    expect(summary.events).toBe(0);
    expect(summary.securityLake?.keys).toEqual([]);
    expect(await listKeys(stack, LAKE)).toEqual(before);
  });

  test("filtered users are not in the rows and literals are out of query_string", async () => {
    const key = "raw/2026/11/25/12/policy-stream-1-2026-11-25-12-00-00-a7b8";
    const { fixture, summary, files } = await decrypt(
      key,
      { engine: "aurora-postgresql", resourceId: CLUSTER, records: 80, eventsPerRecord: 3, seed: 5 },
      { EXCLUDE_USERS: "analyst", REDACT_SQL_LITERALS: "true", REDACT_PARAMS: "drop" },
    );
    const users = new Set(
      fixture.records.flatMap((r) =>
        r.databaseActivityEventList.map((e) => String(e.dbUserName).toLowerCase()),
      ),
    );
    expect(users.has("analyst")).toBe(true);
    expect(summary.eventsFiltered.user).toBeGreaterThan(0);
    const rows = await rowsOf(files);
    expect(rows).toHaveLength(summary.events);
    const names = rows.map((row) =>
      String((row.actor as { user: { name: string } }).user.name).toLowerCase(),
    );
    expect(names).not.toContain("analyst");
    const texts = rows.flatMap((row) => {
      const query = row.query_info as { query_string?: string; data?: string } | undefined;
      return query === undefined ? [] : [query.query_string ?? "", query.data ?? ""];
    });
    expect(texts.some((text) => text.includes("interval ?"))).toBe(true);
    expect(texts.join("\n")).not.toContain("'1 day'");
    expect(texts.join("\n")).not.toContain("@example.com");
  });
});

test("a bad SECURITY_LAKE_ACCOUNT_ID is refused at start, naming the variable", () => {
  expect(() =>
    handlerFor(
      stack,
      { DAS_RESOURCE_ID: CLUSTER, ...LAKE_ENV, SECURITY_LAKE_ACCOUNT_ID: "12345" },
      new CapturingLog(),
    ),
  ).toThrow(/SECURITY_LAKE_ACCOUNT_ID/);
});
