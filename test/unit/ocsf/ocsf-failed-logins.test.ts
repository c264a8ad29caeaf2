/**
 * Failed logins counted from OCSF rows (Connect + Failure) equal the saved Athena query's count
 * (`failed-logins-by-user-and-host` in resources/athena.yml, run unchanged by DuckDB) over the same
 * events as NDJSON lines, per engine, user and host: the two outputs tell a security team the same.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadAthenaTemplate, namedQuery } from "../../../src/athena/athena-template.ts";
import { eventsViewSql } from "../../../src/athena/duckdb-dialect.ts";
import { type DuckDbSession, openDuckDbSession } from "../../../src/athena/duckdb-session.ts";
import { EVENT_COLUMNS, PARTITION_COLUMN } from "../../../src/athena/event-columns.ts";
import { normalizedFields } from "../../../src/lines/normalize-event.ts";
import {
  buildEvents,
  ENGINES,
  type Engine,
  type Event,
  seededRandom,
} from "../../../src/local/das-events.ts";
import { createDatastoreActivityMapper } from "../../../src/ocsf/datastore-activity.ts";

const HOUR = "2026/11/25/10";
const TIME_MS = Date.UTC(2026, 10, 25, 10, 15);

let db: DuckDbSession;
let dir: string;
beforeAll(async () => {
  db = await openDuckDbSession();
  dir = await mkdtemp(join(tmpdir(), "ocsf-failed-logins-"));
});
afterAll(async () => {
  db?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Generated events, plus the rarer ways each engine reports (or does not report) a failed login. */
function corpus(): { engine: Engine; event: Event }[] {
  const random = seededRandom(29);
  const events = ENGINES.flatMap((engine) =>
    Array.from({ length: 600 }, (_, sequence) =>
      buildEvents(engine, 2, { random, timeMs: TIME_MS, sequence }),
    )
      .flat()
      .map((event) => ({ engine, event })),
  );
  const like = (engine: Engine, change: Event) => {
    const base = events.find((e) => e.engine === engine)?.event ?? {};
    events.push({ engine, event: { ...base, ...change } });
  };
  like("aurora-postgresql", { command: "ERROR", exitCode: "28000", dbUserName: "nobody" });
  like("aurora-postgresql", { command: "ERROR", exitCode: "42P01", dbUserName: "nobody" });
  like("aurora-mysql", { command: "CONNECT", exitCode: "1045", dbUserName: "half" });
  like("oracle", { command: "LOGON", exitCode: 28000, dbUserName: "LOCKED" });
  like("oracle", { command: "LOGON", exitCode: null, dbUserName: "NOCODE" });
  like("sqlserver", {
    command: "LOGIN",
    dbUserName: "lgif",
    engineNativeAuditFields: { action_id: "LGIF" },
  });
  return events;
}

test("failed logins per engine, user and host: OCSF rows and the saved query agree, for all four engines", async () => {
  const events = corpus();
  const path = join(dir, "events.json");
  const lines = events.map(({ engine, event }) => {
    const ids = engine.startsWith("aurora")
      ? { clusterId: "cluster-A", instanceId: "db-B" }
      : { instanceId: "db-B" };
    return JSON.stringify({ ...event, ...normalizedFields(event), ...ids });
  });
  await writeFile(path, `${lines.join("\n")}\n`);
  const template = loadAthenaTemplate();
  await db.query(
    eventsViewSql({
      table: template.table.name,
      bucket: "bucket",
      columns: template.table.columns,
      partitionColumn: PARTITION_COLUMN.name,
      jsonKeyOf: (column) => EVENT_COLUMNS.find((c) => c.jsonKey.toLowerCase() === column)?.jsonKey ?? column,
      objects: [{ path, key: "decrypted/raw/events.json", partition: HOUR }],
    }),
  );
  const saved = await db.query(namedQuery(template, "failed-logins-by-user-and-host").queryString, [
    HOUR,
    HOUR,
  ]);
  const fromQuery = saved.map(
    (row) => `${row.engine} ${row.dbusername} ${row.remotehost} ${row.failed_logins}`,
  );

  const map = createDatastoreActivityMapper();
  const counts = new Map<string, number>();
  for (const { engine, event } of events) {
    const row = map(event, { instanceId: "db-B", fallbackTimeMs: 0 });
    if (row?.activity_id !== 3 || row.status_id !== 2) continue;
    const host = row.src_endpoint.ip ?? row.src_endpoint.hostname ?? row.src_endpoint.name;
    const id = `${row.metadata.product.feature.name} ${row.actor.user.name} ${host}`;
    expect(row.metadata.product.feature.name).toBe(engine);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const fromRows = [...counts].map(([id, n]) => `${id} ${n}`);

  expect(new Set(saved.map((row) => row.engine))).toEqual(new Set(ENGINES));
  expect(fromRows.sort()).toEqual(fromQuery.sort());
  // The rarer forms are in both counts (or in neither), not only the generator's usual ones.
  for (const user of ["nobody", "LOCKED", "lgif"])
    expect(fromQuery.some((line) => line.includes(` ${user} `))).toBe(true);
  for (const user of ["half", "NOCODE"])
    expect(fromQuery.some((line) => line.includes(` ${user} `))).toBe(false);
});
