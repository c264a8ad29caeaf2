/**
 * The handler against moto's S3 with versioning on: a server implementation we did not write, that
 * keeps every version and every delete marker, so an extra write or a needless delete shows.
 */
import { KMSClient } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, test } from "vitest";
import { reprocess } from "../../src/cli/reprocess.ts";
import { loadConfig } from "../../src/config/config.ts";
import { createHandler, type HandlerResult } from "../../src/lambda/handler.ts";
import { s3Notification } from "../../src/lambda/s3-notification.ts";
import {
  buildFirehoseObject,
  type EncryptedRecord,
  encryptedRecords,
  expectedEventLines,
  type FixtureOptions,
  type InnerRecord,
} from "../../src/local/fixtures.ts";
import { type KmsEmulator, startKmsEmulator } from "../../src/local/kms-emulator.ts";
import { cutMessage, tamperedMessage } from "../support/bad-records.ts";
import { type FaultProxy, type ProxiedRequest, startFaultProxy } from "../support/fault-proxy.ts";
import { CapturingLog, readLines } from "../support/harness.ts";
import { type MotoServer, startMotoServer } from "../support/moto-server.ts";

const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "moto", secretAccessKey: "moto-secret" };
const HANDLER_ENV = {
  DAS_RESOURCE_ID: CLUSTER,
  S3_FORCE_PATH_STYLE: "true",
  OUTPUT_COMPRESSION: "none",
  UPLOAD_PART_SIZE_MB: "5",
  DECRYPT_WORKERS: "0",
};

let moto: MotoServer | undefined;
let kms: KmsEmulator | undefined;
let proxy: FaultProxy | undefined;
let s3: S3Client;
let kmsClient: KMSClient;
let buckets = 0;

beforeAll(async () => {
  moto = await startMotoServer();
  kms = await startKmsEmulator();
  // The handler's requests go through the proxy, which records them; the test's own go straight to moto.
  proxy = await startFaultProxy(moto.endpoint);
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: proxy.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
  });
  s3 = new S3Client({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
  });
  kmsClient = new KMSClient({ endpoint: kms.endpoint, region: REGION, credentials: CREDENTIALS });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  kmsClient?.destroy();
  await proxy?.stop();
  await kms?.stop();
  await moto?.stop();
});

/** A new bucket with versioning enabled, one per test so versions and markers are its own. */
async function versionedBucket(): Promise<string> {
  buckets += 1;
  const bucket = `das-versioned-${buckets}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
  );
  return bucket;
}

async function putSource(bucket: string, key: string, body: Buffer): Promise<string> {
  const answer = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return (answer.ETag ?? "").replace(/"/g, "");
}

async function runHandler(bucket: string, key: string): Promise<HandlerResult> {
  const handler = createHandler(HANDLER_ENV, { logger: new CapturingLog() });
  return (await handler(s3Notification(bucket, key))) as HandlerResult;
}

interface Versions {
  /** Object versions, newest first per key, as S3 lists them. */
  readonly versions: { key: string; versionId: string; isLatest: boolean }[];
  readonly deleteMarkers: { key: string; isLatest: boolean }[];
}

async function versionsUnder(bucket: string, prefix: string): Promise<Versions> {
  const answer = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  expect(answer.IsTruncated ?? false).toBe(false);
  return {
    versions: (answer.Versions ?? []).map((v) => ({
      key: v.Key ?? "",
      versionId: v.VersionId ?? "",
      isLatest: v.IsLatest ?? false,
    })),
    deleteMarkers: (answer.DeleteMarkers ?? []).map((m) => ({
      key: m.Key ?? "",
      isLatest: m.IsLatest ?? false,
    })),
  };
}

function versionCount(listing: Versions, key: string): number {
  return listing.versions.filter((version) => version.key === key).length;
}

async function sourceEtagOf(bucket: string, key: string, versionId?: string): Promise<string | undefined> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return head.Metadata?.["source-etag"];
}

async function tagsOf(bucket: string, key: string): Promise<Record<string, string>> {
  const answer = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  return Object.fromEntries((answer.TagSet ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""]));
}

/** The requests the handler sent (through the proxy) since `from` that touch `prefix` in `bucket`. */
function requestsUnder(bucket: string, prefix: string, from = 0): ProxiedRequest[] {
  return (proxy?.requests ?? [])
    .slice(from)
    .filter(
      (request) =>
        request.path.startsWith(`/${bucket}/${prefix}`) ||
        (request.path.replace(/\/$/, "") === `/${bucket}` &&
          (request.query.get("prefix") ?? "").startsWith(prefix)),
    );
}

function describeRequests(requests: ProxiedRequest[]): string[] {
  return requests.map((request) => `${request.method} ${request.path}?${request.query.toString()}`);
}

async function cleanObject(options: Partial<FixtureOptions> = {}) {
  return buildFirehoseObject(kmsClient, kms?.keyArn ?? "", {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 6,
    eventsPerRecord: 2,
    ...options,
  });
}

/** An object whose records at `bad` are damaged (tampered, then cut, alternately); the rest decrypt. */
async function objectWithBadRecords(options: Partial<FixtureOptions>, bad: number[]) {
  const records: EncryptedRecord[] = [];
  for await (const record of encryptedRecords(kmsClient, kms?.keyArn ?? "", {
    engine: "aurora-postgresql",
    resourceId: CLUSTER,
    records: 8,
    eventsPerRecord: 2,
    ...options,
  }))
    records.push(record);
  const body = Buffer.concat(
    records.map((record, index) => {
      const at = bad.indexOf(index);
      if (at < 0) return record.bytes;
      return at % 2 === 0 ? tamperedMessage(record.bytes) : cutMessage(record.bytes);
    }),
  );
  const good: InnerRecord[] = records
    .filter((_, index) => !bad.includes(index))
    .map((record) => record.inner);
  return { body, good, recordsIn: records.length };
}

test("a multipart and a single-part output each have exactly one version, carrying source-etag, and no delete marker is made", async () => {
  const bucket = await versionedBucket();
  const from = proxy?.requests.length ?? 0;
  const runs = [
    { key: "raw/2026/11/25/10/large", records: 500, eventsPerRecord: 20 },
    { key: "raw/2026/11/25/10/small", records: 5, eventsPerRecord: 1 },
  ];
  const expected = new Map<string, { etag: string; records: InnerRecord[] }>();
  for (const run of runs) {
    const fixture = await cleanObject({ records: run.records, eventsPerRecord: run.eventsPerRecord });
    expected.set(`decrypted/${run.key}`, {
      etag: await putSource(bucket, run.key, fixture.body),
      records: fixture.records,
    });
    await runHandler(bucket, run.key);
  }

  // The large output really went up in parts (over 5 MiB uncompressed), the small one in one request.
  const multipart = requestsUnder(bucket, "decrypted/", from);
  const large = multipart.filter((request) => request.path === `/${bucket}/decrypted/${runs[0]?.key}`);
  expect(large.filter((request) => request.operation === "CreateMultipartUpload")).toHaveLength(1);
  expect(large.filter((request) => request.operation === "UploadPart").length).toBeGreaterThanOrEqual(2);
  const small = multipart.filter((request) => request.path === `/${bucket}/decrypted/${runs[1]?.key}`);
  expect(small.filter((request) => request.operation === "CreateMultipartUpload")).toHaveLength(0);

  const outputs = await versionsUnder(bucket, "decrypted/");
  expect(outputs.versions.map((version) => version.key).sort()).toEqual([...expected.keys()].sort());
  expect((await versionsUnder(bucket, "")).deleteMarkers).toEqual([]);
  // S3 leaves a delete marker even when the deleted key does not exist; moto 5.2 does not, so the
  // recorded requests are what shows a needless delete of a quarantine key.
  expect(describeRequests(requestsUnder(bucket, "quarantine/", from))).toEqual([]);
  for (const [key, { etag, records }] of expected) {
    expect(await sourceEtagOf(bucket, key), key).toBe(etag);
    expect(await readLines({ s3Client: s3 }, bucket, key)).toEqual(expectedEventLines(records));
  }
  // Mostly the 10,000-event fixture being encrypted: about 3 s idle, 12 s on a busy 2-core box.
}, 60_000);

test("a clean object that never had quarantined records sends no request under quarantine/ and leaves nothing there", async () => {
  const bucket = await versionedBucket();
  const key = "raw/2026/11/25/11/clean";
  const fixture = await cleanObject();
  const etag = await putSource(bucket, key, fixture.body);
  const from = proxy?.requests.length ?? 0;

  const result = await runHandler(bucket, key);

  expect(result.objects.map((summary) => summary.quarantined)).toEqual([0]);
  expect(describeRequests(requestsUnder(bucket, "quarantine/", from))).toEqual([]);
  expect(await versionsUnder(bucket, "quarantine/")).toEqual({ versions: [], deleteMarkers: [] });
  expect(await sourceEtagOf(bucket, `decrypted/${key}`)).toBe(etag);
});

test("a rerun that is now clean deletes the earlier run's quarantine object; a further clean rerun sends nothing under quarantine/", async () => {
  const bucket = await versionedBucket();
  const key = "raw/2026/11/25/12/replaced";
  const output = `decrypted/${key}`;
  const quarantineKey = `quarantine/${key}`;

  const damaged = await objectWithBadRecords({ seed: 3 }, [2, 5]);
  const firstEtag = await putSource(bucket, key, damaged.body);
  await runHandler(bucket, key);
  expect(await readLines({ s3Client: s3 }, bucket, output)).toEqual(expectedEventLines(damaged.good));
  const afterFirst = await versionsUnder(bucket, quarantineKey);
  expect(afterFirst.deleteMarkers).toEqual([]);
  expect(versionCount(afterFirst, quarantineKey)).toBe(1);
  expect(await sourceEtagOf(bucket, output)).toBe(firstEtag);

  const clean = await cleanObject({ seed: 4 });
  const secondEtag = await putSource(bucket, key, clean.body);
  expect(secondEtag).not.toBe(firstEtag);
  await runHandler(bucket, key);

  const quarantine = await versionsUnder(bucket, quarantineKey);
  expect(quarantine.deleteMarkers).toEqual([{ key: quarantineKey, isLatest: true }]);
  expect(versionCount(quarantine, quarantineKey)).toBe(1);
  const outputs = await versionsUnder(bucket, "decrypted/");
  expect(versionCount(outputs, output)).toBe(2);
  const latest = outputs.versions.find((version) => version.key === output && version.isLatest);
  expect(await sourceEtagOf(bucket, output, latest?.versionId)).toBe(secondEtag);
  expect(await readLines({ s3Client: s3 }, bucket, output)).toEqual(expectedEventLines(clean.records));

  const from = proxy?.requests.length ?? 0;
  await runHandler(bucket, key);
  expect(describeRequests(requestsUnder(bucket, "quarantine/", from))).toEqual([]);
  expect(await versionsUnder(bucket, quarantineKey)).toEqual(quarantine);
});

test("the output's tags hold the run's counts: records-in, records, quarantined, events, heartbeats-dropped", async () => {
  const bucket = await versionedBucket();
  const key = "raw/2026/11/25/13/counted";
  // Records 3, 7 and 11 are heartbeats (dropped in events format); records 1 and 5 are damaged.
  const damaged = await objectWithBadRecords(
    { records: 12, eventsPerRecord: 3, heartbeatEvery: 4, seed: 9 },
    [1, 5],
  );
  await putSource(bucket, key, damaged.body);

  await runHandler(bucket, key);

  const events = expectedEventLines(damaged.good);
  const heartbeats = damaged.good
    .flatMap((record) => record.databaseActivityEventList)
    .filter((event) => event.type === "heartbeat").length;
  expect(events.length).toBe(7 * 3);
  expect(heartbeats).toBe(3);
  expect(await tagsOf(bucket, `decrypted/${key}`)).toMatchObject({
    "records-in": "12",
    records: "10",
    quarantined: "2",
    events: String(events.length),
    "heartbeats-dropped": String(heartbeats),
  });
  expect(await readLines({ s3Client: s3 }, bucket, `decrypted/${key}`)).toEqual(events);
});

test("das-decrypt reprocess counts an output written by the handler as up to date, and not once its source changes", async () => {
  const bucket = await versionedBucket();
  const key = "raw/2026/11/25/14/checked";
  await putSource(bucket, key, (await cleanObject({ seed: 11 })).body);
  await runHandler(bucket, key);
  const check = () =>
    reprocess({
      source: { bucket, key: "raw/" },
      force: false,
      concurrency: 2,
      batchSize: 10,
      config: loadConfig(HANDLER_ENV),
      s3,
      emitter: undefined,
      progress: { update: () => undefined, stop: () => undefined },
    });

  const fresh = await check();
  expect(fresh.counts).toEqual({ total: 1, decrypted: 0, upToDate: 1, failed: 0 });
  expect(fresh.pending).toEqual([]);

  await putSource(bucket, key, (await cleanObject({ seed: 12 })).body);
  const stale = await check();
  expect(stale.counts).toMatchObject({ total: 1, upToDate: 0 });
  expect(stale.pending.map((object) => object.key)).toEqual([key]);
});
