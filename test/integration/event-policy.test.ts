import { createHmac } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { GenerateMacCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Engine } from "../../src/local/das-events.ts";
import {
  buildFirehoseObject,
  expectedEventLines,
  type FixtureOptions,
  type InnerRecord,
} from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { DERIVATION_MESSAGE } from "../../src/policy/param-hash-key.ts";
import { getBytes, handlerFor, outputFacts, putObject, readLines } from "../support/harness.ts";

const BUCKET = "das-policy";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";
const ENGINES: Engine[] = ["aurora-postgresql", "aurora-mysql", "oracle", "sqlserver"];

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
});
afterAll(async () => {
  await stack.stop();
});

type Event = Record<string, unknown>;

/** A generated Firehose object, written under `key`. */
async function writeFixture(key: string, options: FixtureOptions) {
  const fixture = await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, options);
  return { fixture, etag: await putObject(stack, BUCKET, key, fixture.body) };
}

const POLICY_ENV = {
  // Case-insensitive, exact, with spaces and an empty entry that must be ignored.
  EXCLUDE_USERS: " RDSADMIN , Analyst,,",
  // Aurora MySQL names its statements QUERY; its failed logins are FAILED_CONNECT.
  EXCLUDE_COMMANDS: "delete,failed_connect",
  REDACT_PARAMS: "drop",
  REDACT_FIELDS: "remoteHost,SYSTEM_PRIVILEGE_USED,statement",
};

/** What the policy above must leave, computed here on its own from the generated events. */
function expectedWithPolicy(records: readonly InnerRecord[]) {
  const filtered = { user: 0, database: 0, command: 0 };
  let redacted = 0;
  const kept: InnerRecord[] = records.map((record) => ({
    ...record,
    databaseActivityEventList: record.databaseActivityEventList.flatMap((original) => {
      if (original.type === "heartbeat") return [original];
      const user = String(original.dbUserName ?? "").toLowerCase();
      if (user === "rdsadmin" || user === "analyst") {
        filtered.user += 1;
        return [];
      }
      if (["delete", "failed_connect"].includes(String(original.command ?? "").toLowerCase())) {
        filtered.command += 1;
        return [];
      }
      const event: Event = structuredClone(original);
      const before = JSON.stringify(event);
      delete event.paramList;
      delete event.remoteHost;
      delete event.statement;
      const native = event.engineNativeAuditFields as Event | undefined;
      if (native !== undefined && native !== null) {
        delete native.SYSTEM_PRIVILEGE_USED;
        delete native.remoteHost;
        delete native.statement;
      }
      if (JSON.stringify(event) !== before) redacted += 1;
      return [event];
    }),
  }));
  return { kept, filtered, redacted };
}

function planted(records: readonly InnerRecord[]): string[] {
  const values = new Set<string>();
  for (const record of records) {
    for (const event of record.databaseActivityEventList) {
      if (typeof event.remoteHost === "string") values.add(`"remoteHost":`);
      if (Array.isArray(event.paramList)) {
        for (const value of event.paramList) if (/[^0-9]/.test(String(value))) values.add(String(value));
      }
    }
  }
  values.add('"paramList"');
  values.add("SYSTEM_PRIVILEGE_USED");
  return [...values].filter((value) => value.length >= 5);
}

describe("EXCLUDE_* drop events and REDACT_* remove fields, for every engine; every event is accounted for", () => {
  for (const engine of ENGINES) {
    test(engine, async () => {
      const key = `raw/${engine}/2026/11/25/10/policy-${engine}`;
      const { fixture, etag } = await writeFixture(key, {
        engine,
        resourceId: engine.startsWith("aurora") ? CLUSTER : DB,
        records: 60,
        eventsPerRecord: 4,
        heartbeatEvery: 7,
        seed: 16,
      });
      const { handler, log } = handlerFor(stack, {
        DAS_RESOURCE_ID: engine.startsWith("aurora") ? CLUSTER : DB,
        ...POLICY_ENV,
      });
      await handler(s3Notification(BUCKET, key, etag, fixture.body.length));

      const { kept, filtered, redacted } = expectedWithPolicy(fixture.records);
      const expected = expectedEventLines(kept);
      const outputKey = `decrypted/${key}.gz`;
      expect(await readLines(stack, BUCKET, outputKey)).toEqual(expected);
      expect(filtered.user).toBeGreaterThan(0);
      expect(filtered.command).toBeGreaterThan(0);
      expect(redacted).toBeGreaterThan(0);

      const written = gunzipSync(await getBytes(stack, BUCKET, outputKey)).toString("utf8");
      for (const value of planted(fixture.records)) expect(written.includes(value), value).toBe(false);
      const logged = log.text();
      for (const value of planted(fixture.records)) expect(logged.includes(value), value).toBe(false);

      const eventsIn = fixture.records.reduce((n, record) => n + record.databaseActivityEventList.length, 0);
      const summary = log.lines.find((line) => line.message === "object decrypted")?.extra as {
        events: number;
        heartbeatsDropped: number;
        eventsFiltered: typeof filtered;
        eventsRedacted: number;
      };
      expect(summary).toMatchObject({
        events: expected.length,
        eventsFiltered: filtered,
        eventsRedacted: redacted,
      });
      const { user, database, command } = summary.eventsFiltered;
      expect(summary.events + user + database + command + summary.heartbeatsDropped).toBe(eventsIn);
      expect(await outputFacts(stack, BUCKET, outputKey)).toMatchObject({
        events: String(expected.length),
        "events-filtered": String(filtered.user + filtered.database + filtered.command),
        "events-redacted": String(redacted),
      });
    });
  }
});

test("the records format keeps each record, without the filtered events and with the fields redacted", async () => {
  const key = "raw/records/2026/11/25/11/policy-records";
  const { fixture, etag } = await writeFixture(key, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 20,
    eventsPerRecord: 3,
    seed: 5,
  });
  const { handler } = handlerFor(stack, {
    DAS_RESOURCE_ID: CLUSTER,
    OUTPUT_FORMAT: "records",
    ...POLICY_ENV,
  });
  await handler(s3Notification(BUCKET, key, etag));
  expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(
    expectedWithPolicy(fixture.records).kept,
  );
});

test("no policy configured: the same bytes as before, no policy tags", async () => {
  const key = "raw/plain/2026/11/25/11/policy-none";
  const { fixture, etag } = await writeFixture(key, {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 10,
    eventsPerRecord: 2,
  });
  const { handler, log } = handlerFor(stack, { DAS_RESOURCE_ID: CLUSTER });
  await handler(s3Notification(BUCKET, key, etag));
  expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(expectedEventLines(fixture.records));
  const facts = await outputFacts(stack, BUCKET, `decrypted/${key}.gz`);
  expect(facts).not.toHaveProperty("events-filtered");
  expect(facts).not.toHaveProperty("events-redacted");
  expect(log.lines.find((line) => line.message === "object decrypted")?.extra).toMatchObject({
    eventsFiltered: { user: 0, database: 0, command: 0 },
    eventsRedacted: 0,
  });
});

test("REDACT_PARAMS=hash: each bind value becomes its HMAC under a key KMS derives once per container; equal values stay joinable across objects", async () => {
  const { handler, log } = handlerFor(stack, {
    DAS_RESOURCE_ID: CLUSTER,
    REDACT_PARAMS: "hash",
    PARAM_HASH_KEY_ID: stack.kms.keyArn,
  });
  const before = stack.kms.calls.GenerateMac ?? 0;
  const hashes = new Map<string, string>();
  const written: string[] = [];
  let hashed = 0;
  for (const seed of [3, 4]) {
    const key = `raw/hash/2026/11/25/12/policy-hash-${seed}`;
    const { fixture, etag } = await writeFixture(key, {
      engine: "aurora-postgresql",
      resourceId: CLUSTER,
      records: 40,
      eventsPerRecord: 3,
      seed,
    });
    await handler(s3Notification(BUCKET, key, etag));
    const lines = (await readLines(stack, BUCKET, `decrypted/${key}.gz`)) as Event[];
    const events = fixture.records.flatMap((record) =>
      record.databaseActivityEventList.filter((event) => event.type !== "heartbeat"),
    );
    expect(lines).toHaveLength(events.length);
    events.forEach((event, i) => {
      const original = event.paramList as unknown[];
      const out = lines[i]?.paramList as unknown[];
      expect(out).toHaveLength(original.length);
      original.forEach((value, j) => {
        const hash = out[j] as string;
        expect(hash).toMatch(/^[0-9a-f]{64}$/);
        const seen = hashes.get(String(value));
        if (seen !== undefined) expect(hash).toBe(seen);
        hashes.set(String(value), hash);
        hashed += 1;
      });
    });
    written.push(gunzipSync(await getBytes(stack, BUCKET, `decrypted/${key}.gz`)).toString("utf8"));
  }
  expect(hashed).toBeGreaterThan(10);
  // Distinct values, distinct hashes; and the hash is HMAC-SHA-256 under the MAC KMS gives for the
  // derivation message (asked here on its own), so it is stable for the deployment.
  expect(new Set(hashes.values()).size).toBe(hashes.size);
  const { Mac } = await stack.kmsClient.send(
    new GenerateMacCommand({
      KeyId: stack.kms.keyArn,
      Message: DERIVATION_MESSAGE,
      MacAlgorithm: "HMAC_SHA_256",
    }),
  );
  for (const [value, hash] of hashes) {
    expect(
      createHmac("sha256", Mac as Uint8Array)
        .update(value)
        .digest("hex"),
    ).toBe(hash);
  }
  expect((stack.kms.calls.GenerateMac ?? 0) - before).toBe(2); // one for both objects, one by this test
  for (const text of [...written, log.text()]) expect(text.includes("x@example.com")).toBe(false);
  expect(log.text().includes(Buffer.from(Mac as Uint8Array).toString("base64"))).toBe(false);
});
