import { afterAll, beforeAll, expect, test } from "vitest";
import { ENGINES, type Engine } from "../../src/local/das-events.ts";
import { buildFirehoseObject, expectedEventLines, type FirehoseObject } from "../../src/local/fixtures.ts";
import { type LocalStack, s3Notification, startLocalStack } from "../../src/local/stack.ts";
import { listKeys, putObject, readLines } from "../support/harness.ts";
import { LeakWatch } from "../support/leak-watch.ts";

const BUCKET = "das-load";
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const DB = "db-KBKJGYAAF5QT253EYKEI37WBCY";
const OBJECTS = 200;
const DISTINCT = 50;
const CONCURRENCY = 8;

const watch = new LeakWatch();
let stack: LocalStack;
const objects: { key: string; fixture: FirehoseObject }[] = [];

beforeAll(async () => {
  stack = await startLocalStack();
  stack.createBucket(BUCKET);
  const fixtures: FirehoseObject[] = [];
  for (let i = 0; i < DISTINCT; i += 1) {
    const engine = ENGINES[i % ENGINES.length] as Engine;
    fixtures.push(
      await buildFirehoseObject(stack.kmsClient, stack.kms.keyArn, {
        engine,
        resourceId: engine.startsWith("aurora") ? CLUSTER : DB,
        records: 20,
        eventsPerRecord: 3,
        suite: i % 3 === 0 ? "signed" : "unsigned",
        delimiter: i % 2 === 0 ? "none" : "newline",
        gzip: i % 4 === 1,
        heartbeatEvery: 7,
        seed: 100 + i,
      }),
    );
  }
  for (let n = 0; n < OBJECTS; n += 1) {
    const fixture = fixtures[n % DISTINCT] as FirehoseObject;
    const engine = ENGINES[(n % DISTINCT) % ENGINES.length] as Engine;
    const key = `raw/${engine}/2026/11/25/${String(n % 24).padStart(2, "0")}/das-load-${n}`;
    await putObject(stack, BUCKET, key, fixture.body);
    objects.push({ key, fixture });
  }
  for (const fixture of fixtures) watch.addRecords(fixture.records);
}, 120_000);
afterAll(async () => {
  await stack.stop();
});

test(`${OBJECTS} objects of four engines, ${CONCURRENCY} concurrent invocations: every output correct`, async () => {
  const env = {
    DAS_RESOURCE_ID_MAP: JSON.stringify({ "raw/aurora-postgresql/": CLUSTER, "raw/aurora-mysql/": CLUSTER }),
    DAS_RESOURCE_ID: DB,
  };
  // One handler per concurrent invocation, as Lambda runs one invocation per container.
  const containers = Array.from({ length: CONCURRENCY }, () => watch.handlerFor(stack, env));
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  let next = 0;
  const failures: unknown[] = [];
  const started = performance.now();
  await Promise.all(
    containers.map(async ({ handler }) => {
      for (let n = next++; n < OBJECTS; n = next++) {
        const { key } = objects[n] as { key: string };
        await handler(s3Notification(BUCKET, key)).catch((error: unknown) => failures.push(error));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const records = containers.reduce((sum, { metrics }) => sum + metrics.blobs.length, 0);
  const recordsPerSecond = (OBJECTS * 20) / seconds;
  console.log(
    `load: ${OBJECTS} objects in ${seconds.toFixed(2)} s = ${(OBJECTS / seconds).toFixed(1)} objects/s ` +
      `(${recordsPerSecond.toFixed(0)} records/s), ${CONCURRENCY} concurrent invocations; ` +
      `peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MiB sampled, ${maxRssMiB.toFixed(0)} MiB maxRSS ` +
      "(one process: handler, local S3 and KMS)",
  );

  expect(failures).toEqual([]);
  expect(records).toBe(OBJECTS);
  expect(await listKeys(stack, BUCKET, "decrypted/")).toHaveLength(OBJECTS);
  for (const { key, fixture } of objects) {
    expect(await readLines(stack, BUCKET, `decrypted/${key}.gz`)).toEqual(
      expectedEventLines(fixture.records),
    );
  }
  const summaries = containers.flatMap(({ log }) =>
    log.lines.filter((line) => line.message === "object decrypted").map((line) => line.extra),
  );
  expect(summaries).toHaveLength(OBJECTS);
  for (const summary of summaries)
    expect(summary).toMatchObject({ recordsIn: 20, records: 20, quarantined: 0 });
}, 90_000);

test("nothing logged during the load run holds plaintext or ciphertext", () => {
  expect(watch.size().logLines).toBeGreaterThanOrEqual(OBJECTS);
  expect(watch.findLeaks()).toEqual([]);
});
