/**
 * `npm run bench`: the handler's cost per record against the floor of the work itself and against
 * the per-record approach of the public samples, on generated DAS objects, with the local S3 and
 * KMS (5 ms latency) in a child process. Prints one JSON line per case. Options:
 *   --records N     records per throughput case of suite 0x0178 (default 100000)
 *   --signed-records N  records per throughput case of the signed suite 0x0378 (default 30000:
 *                   ECDSA makes it ~15 × slower per record, and its cost per record is flat)
 *   --repeat K      runs of the handler and of the floor per throughput case; medians reported (default 3)
 *   --naive N       records of the naive-vs-ours comparison (default 2000)
 *   --big-mb N      size of the memory case in MiB (default 1100; 0 skips the memory cases)
 *   --only memory   run the memory cases only
 *   --case S-E      run only the throughput case of suite S (unsigned|signed) with E events a record
 *   --workers N     run only the memory cases with N decryption workers (0: in the handler's thread)
 *   --cold          run only the memory cases in a new container
 *   --memory-repeat K   runs of each memory case, each in a new process; medians reported (default 3)
 *   --heap-mb N     V8 old-space cap of the process the memory cases run in, in place of the
 *                   function's (NODE_OPTIONS at the memory whose vCPUs give that many workers:
 *                   1769 MB for none, 3538 for two; a quarter of it, see deploy/stack-config.cjs)
 *   --security-lake off  skip the runs with the OCSF Parquet output on (by default, each 20-event
 *                   case also runs the handler on one CPU with SECURITY_LAKE_BUCKET set, and the
 *                   memory cases add the largest object with it, cold, reporting its peak RSS);
 *                   `--security-lake only` runs just those memory cases
 *   --redaction off skip the runs with redaction on (by default, each 20-event case also runs the
 *                   handler on one CPU with REDACT_SQL_LITERALS=true and REDACT_PARAMS=hash, alternating
 *                   with the runs without, and reports both)
 * `npm run bench` starts this process with the function's V8 settings (NODE_OPTIONS'
 * --max-semi-space-size=8, and the --no-allocation-site-pretenuring its entry point sets), so the
 * handler runs here as it runs in Lambda; the memory cases' processes get them from the stack's
 * configuration and the bundle's entry point themselves.
 * `npm run bench:node22 -- <options>` runs it on the Lambda runtime's Node major (nodejs22.x, whose
 * OpenSSL 3.5 verifies ECDSA P-384 faster than Node 20's 3.0), from `npm ci --prefix .ci/node22`;
 * every process the bench starts runs on the same Node. The first line printed names the Node and
 * its OpenSSL.
 * Environment: BENCH_PROFILE=<prefix> writes a CPU profile of each handler run; BENCH_CHILD_FLAGS
 * adds Node flags to the memory cases' processes (e.g. `--trace-gc`), and BENCH_CHILD_LOG=<file>
 * keeps what those processes print.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import {
  createCipheriv,
  createDecipheriv,
  createSign,
  createVerify,
  generateKeyPairSync,
  randomBytes,
} from "node:crypto";
import { once } from "node:events";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from "@aws-crypto/client-node";
import { DecryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHandler } from "../src/lambda/handler.ts";
import { NO_METRICS } from "../src/lambda/metrics.ts";
import { SILENT_LOG } from "../src/lambda/run-object.ts";
import { s3Notification } from "../src/lambda/s3-notification.ts";
import type { Engine } from "../src/local/das-events.ts";
import { encryptedRecords, type SuiteName } from "../src/local/fixtures.ts";
import type { ObjectSummary } from "../src/process-object.ts";
import { splitRecords } from "../src/source/split-records.ts";
import { splitWithStreamJson } from "./stream-json-split.ts";

const args = new Map<string, string>();
const flags = process.argv.slice(2).filter((arg) => arg !== "--cold");
for (let i = 0; i < flags.length; i += 2) args.set(flags[i] ?? "", flags[i + 1] ?? "");
const RECORDS = Number(args.get("--records") ?? "100000");
const SIGNED_RECORDS = Number(args.get("--signed-records") ?? "30000");
const REPEAT = Number(args.get("--repeat") ?? "3");
const NAIVE = Number(args.get("--naive") ?? "2000");
const BIG_MB = Number(args.get("--big-mb") ?? "1100");
const ONLY = args.get("--only");
const HEAP_MB = args.get("--heap-mb");
const CASE = args.get("--case");
const MEMORY_WORKERS = args.get("--workers");
/** The environment node runs with in the function of `memorySize` MB (NODE_OPTIONS, glibc's malloc), as deployed. */
const functionEnvironment = (
  createRequire(import.meta.url)("../deploy/stack-config.cjs") as {
    runtimeEnvironment: (memorySize: number) => Record<string, string>;
  }
).runtimeEnvironment;
/** The function's memory at which `DECRYPT_WORKERS=auto` starts `workers` workers (one per 1769 MB, none at one vCPU; Lambda's largest is 10,240 MB). */
const memorySizeFor = (workers: number): number => Math.min(10_240, 1769 * Math.max(1, workers));
const MEMORY_REPEAT = Number(args.get("--memory-repeat") ?? "3");
const COLD_ONLY = process.argv.includes("--cold");
const REDACTION = args.get("--redaction") !== "off";
const SECURITY_LAKE = args.get("--security-lake") !== "off";
/** `--security-lake only`: of the memory cases, only those with the OCSF Parquet output on. */
const SECURITY_LAKE_ONLY = args.get("--security-lake") === "only";
/** The OCSF Parquet output on, to a bucket of the bench's S3. */
const SECURITY_LAKE_ENV = {
  SECURITY_LAKE_BUCKET: "bench-lake",
  SECURITY_LAKE_ACCOUNT_ID: "111122223333",
};
/** The redaction the target is set for: literals out of statements, bind values hashed. */
const REDACTION_ENV = {
  REDACT_SQL_LITERALS: "true",
  REDACT_PARAMS: "hash",
  PARAM_HASH_KEY_ID: "alias/bench-param-hash",
};
/** Size of the object a warm container has decrypted before a memory case's object. */
const WARM_UP_MB = 100;
const DISTINCT = 1000;
const ROTATE = 250;
const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local-secret" };
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

interface Servers {
  s3: string;
  kms: string;
  keyArn: string;
  ask(command: string): Promise<Record<string, number>>;
  child: ChildProcessWithoutNullStreams;
}

async function startServers(): Promise<Servers> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/servers.ts"], {
    env: { ...process.env, KMS_LATENCY_MS: "5" },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  const info = JSON.parse(String(first.value)) as { s3: string; kms: string; keyArn: string };
  return {
    ...info,
    child,
    async ask(command) {
      child.stdin.write(`${command}\n`);
      return JSON.parse(String((await lines.next()).value)) as Record<string, number>;
    },
  };
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The object's bytes: the distinct records repeated to `count`, one per line, in ~1 MiB chunks. */
function objectStream(records: Fixture[], count: number): Readable {
  return Readable.from(
    (function* () {
      let chunk: Buffer[] = [];
      let size = 0;
      for (let i = 0; i < count; i += 1) {
        const bytes = (records[i % records.length] as Fixture).bytes;
        chunk.push(bytes, NEWLINE);
        size += bytes.length + 1;
        if (size >= 1 << 20) {
          yield Buffer.concat(chunk);
          chunk = [];
          size = 0;
        }
      }
      if (chunk.length > 0) yield Buffer.concat(chunk);
    })(),
  );
}
const NEWLINE = Buffer.from("\n");

async function upload(s3: S3Client, key: string, records: Fixture[], count: number): Promise<number> {
  let bytes = 0;
  const body = objectStream(records, count);
  body.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  await new Upload({
    client: s3,
    params: { Bucket: "bench", Key: key, Body: body },
    partSize: 8 << 20,
    queueSize: 2,
  }).done();
  return bytes;
}

/**
 * Every thread of this process (workers included, and those started later) on these CPUs only, as
 * a function with that many vCPUs would be; the servers' process keeps its own.
 */
function pinTo(cpus: string): void {
  execFileSync("taskset", ["-a", "-cp", cpus, String(process.pid)], { stdio: "ignore" });
}
const ONE_CPU = "0";
const ALL_CPUS = `0-${availableParallelism() - 1}`;

/**
 * Runs the real handler on one object with `workers` decryption workers, pinned to `cpus`; CPU and
 * peak RSS of this process only (servers are elsewhere).
 */
async function runOurs(
  servers: Servers,
  key: string,
  workers: number,
  cpus: string,
  env: Record<string, string> = {},
) {
  await servers.ask("calls");
  const before = await servers.ask("calls");
  const handler = createHandler(
    { ...process.env, ...env, DECRYPT_WORKERS: String(workers) },
    { logger: SILENT_LOG, metrics: NO_METRICS },
  );
  pinTo(cpus);
  gc();
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const profiler = process.env.BENCH_PROFILE === undefined ? undefined : await startProfile();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = (await handler(s3Notification("bench", key), {
    getRemainingTimeInMillis: () => 900_000,
  })) as {
    objects: ObjectSummary[];
  };
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  pinTo(ALL_CPUS);
  await profiler?.stop(`${process.env.BENCH_PROFILE}-${key.replace(/\W+/g, "_")}-w${workers}.cpuprofile`);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  const after = await servers.ask("calls");
  const summary = result.objects[0] as ObjectSummary;
  return {
    summary,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    peakRssMB: Math.round(peak / 1048576),
    kmsCalls: (after.Decrypt ?? 0) - (before.Decrypt ?? 0),
  };
}

/**
 * One small object through both modes before anything is measured, as a warm Lambda container
 * has done: the worker threads started and their code compiled, the JIT warm.
 */
async function warmUp(servers: Servers, s3: S3Client, records: Fixture[]): Promise<void> {
  const key = "raw/warm-up/2026/11/25/09/bench";
  await upload(s3, key, records, 5_000);
  await runOurs(servers, key, availableParallelism(), ALL_CPUS);
  await runOurs(servers, key, 0, ONE_CPU);
}

/** With BENCH_PROFILE=<path prefix>, a CPU profile of each handler run (not of the fixtures). */
async function startProfile() {
  const { Session } = await import("node:inspector/promises");
  const { writeFile } = await import("node:fs/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    async stop(path: string) {
      const { profile } = await session.post("Profiler.stop");
      await writeFile(path, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * The floor: per record, only what cannot be avoided, in one synchronous loop with no I/O: base64
 * decode of the message, AES-256-GCM decryption of its payload, the ECDSA P-384 verification (signed
 * suite), gunzip, JSON parse, NDJSON serialization and gzip of the output.
 */
function floor(records: Fixture[], suite: SuiteName, count: number) {
  const key = randomBytes(32);
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const prepared = records.map((record) => {
    const outer = JSON.parse(record.bytes.toString()) as { databaseActivityEvents: string };
    const payload = gzipSync(record.innerJson);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const ciphertext = Buffer.concat([cipher.update(payload), cipher.final()]);
    const message = Buffer.from(outer.databaseActivityEvents, "base64");
    const signature = createSign("sha384").update(message).sign(privateKey);
    return { b64: outer.databaseActivityEvents, iv, ciphertext, tag: cipher.getAuthTag(), signature };
  });
  gc();
  pinTo(ONE_CPU);
  const cpu = process.cpuUsage();
  let pending = "";
  let out = 0;
  for (let i = 0; i < count; i += 1) {
    const r = prepared[i % prepared.length] as (typeof prepared)[number];
    const message = Buffer.from(r.b64, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key, r.iv);
    decipher.setAuthTag(r.tag);
    const payload = Buffer.concat([decipher.update(r.ciphertext), decipher.final()]);
    if (suite === "signed" && !createVerify("sha384").update(message).verify(publicKey, r.signature)) {
      throw new Error("floor: signature");
    }
    const inner = JSON.parse(gunzipSync(payload).toString("utf8")) as {
      databaseActivityEventList: unknown[];
    };
    for (const event of inner.databaseActivityEventList) pending += `${JSON.stringify(event)}\n`;
    if (pending.length >= 1 << 20) {
      out += gzipSync(pending).length;
      pending = "";
    }
  }
  out += gzipSync(pending).length;
  const used = process.cpuUsage(cpu);
  pinTo(ALL_CPUS);
  return { cpuUsPerRecord: (used.user + used.system) / count, gzipBytes: out };
}

/**
 * The approach of the public samples: the whole object in memory, per record one KMS Decrypt and
 * one new keyring and SDK decrypt, the whole output in memory, one PutObject.
 */
async function runNaive(s3: S3Client, kms: KMSClient, key: string) {
  const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);
  const started = performance.now();
  const answer = await s3.send(new GetObjectCommand({ Bucket: "bench", Key: key }));
  const text = Buffer.from(
    await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  ).toString();
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const record = JSON.parse(line) as { key: string; databaseActivityEvents: string };
    const dataKey = await kms.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(record.key, "base64"),
        EncryptionContext: { "aws:rds:dbc-id": CLUSTER },
      }),
    );
    const keyring = new RawAesKeyringNode({
      keyName: "DataKey",
      keyNamespace: "BC",
      unencryptedMasterKey: new Uint8Array(dataKey.Plaintext as Uint8Array),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    const { plaintext } = await decrypt(keyring, Buffer.from(record.databaseActivityEvents, "base64"));
    const inner = JSON.parse(gunzipSync(plaintext).toString()) as { databaseActivityEventList: unknown[] };
    for (const event of inner.databaseActivityEventList) lines.push(JSON.stringify(event));
  }
  await s3.send(
    new PutObjectCommand({ Bucket: "bench", Key: `naive/${key}.gz`, Body: gzipSync(lines.join("\n")) }),
  );
  return { wallMs: performance.now() - started };
}

/**
 * One generated record: its bytes and its inner record's JSON. Kept as a buffer and a flat string,
 * not as parsed objects: the handler runs in this process, and a heap full of the benchmark's own
 * fixtures would make each of its full garbage collections slower than in Lambda.
 */
interface Fixture {
  readonly bytes: Buffer;
  readonly innerJson: string;
}

async function distinctRecords(
  kms: KMSClient,
  keyArn: string,
  engine: Engine,
  suite: SuiteName,
  eventsPerRecord: number,
) {
  const records: Fixture[] = [];
  for await (const record of encryptedRecords(kms, keyArn, {
    engine,
    resourceId: CLUSTER,
    records: DISTINCT,
    eventsPerRecord,
    suite,
    rotateKeyEvery: ROTATE,
  })) {
    records.push({ bytes: record.bytes, innerJson: JSON.stringify(record.inner) });
  }
  return records;
}

async function main(): Promise<void> {
  const servers = await startServers();
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: servers.s3,
    AWS_ENDPOINT_URL_KMS: servers.kms,
    S3_FORCE_PATH_STYLE: "true",
    DAS_RESOURCE_ID: CLUSTER,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const s3 = new S3Client({
    endpoint: servers.s3,
    region: "us-east-1",
    credentials: CREDENTIALS,
    forcePathStyle: true,
  });
  const kms = new KMSClient({ endpoint: servers.kms, region: "us-east-1", credentials: CREDENTIALS });
  try {
    print({
      case: "machine",
      node: process.version,
      openssl: process.versions.openssl,
      cpus: (await import("node:os")).cpus().length,
      cpuModel: (await import("node:os")).cpus()[0]?.model,
    });
    const cases: [SuiteName, number, Engine][] = [
      ["unsigned", 1, "aurora-postgresql"],
      ["signed", 1, "aurora-mysql"],
      ["unsigned", 20, "aurora-postgresql"],
      ["signed", 20, "aurora-mysql"],
    ];
    const distinct = new Map<string, Fixture[]>();
    let warm = false;
    for (const [suite, eventsPerRecord, engine] of cases) {
      const records = await distinctRecords(kms, servers.keyArn, engine, suite, eventsPerRecord);
      distinct.set(`${suite}-${eventsPerRecord}`, records);
      if (ONLY === "memory" || (CASE !== undefined && CASE !== `${suite}-${eventsPerRecord}`)) continue;
      if (!warm) await warmUp(servers, s3, records);
      warm = true;
      await servers.ask("reset");
      const count = suite === "signed" ? SIGNED_RECORDS : RECORDS;
      const key = `raw/${suite}-${eventsPerRecord}/2026/11/25/10/bench-${count}`;
      const objectBytes = await upload(s3, key, records, count);
      // The handler on one CPU (decrypting in its own thread, as `auto` does with one vCPU), the
      // handler on every CPU (one worker per CPU) and the floor alternate, so a slow spell of the
      // machine touches all three; medians reported.
      const single: Awaited<ReturnType<typeof runOurs>>[] = [];
      const multi: Awaited<ReturnType<typeof runOurs>>[] = [];
      const floors: number[] = [];
      const redacted: Awaited<ReturnType<typeof runOurs>>[] = [];
      const lake: Awaited<ReturnType<typeof runOurs>>[] = [];
      for (let round = 0; round < REPEAT; round += 1) {
        single.push(await runOurs(servers, key, 0, ONE_CPU));
        if (REDACTION && eventsPerRecord > 1)
          redacted.push(await runOurs(servers, key, 0, ONE_CPU, REDACTION_ENV));
        if (SECURITY_LAKE && eventsPerRecord > 1)
          lake.push(await runOurs(servers, key, 0, ONE_CPU, SECURITY_LAKE_ENV));
        multi.push(await runOurs(servers, key, availableParallelism(), ALL_CPUS));
        floors.push(floor(records, suite, count).cpuUsPerRecord);
      }
      const cpuUs = (r: (typeof single)[number]) => (r.cpuMs * 1000) / count;
      const cpuUsPerRecord = median(single.map(cpuUs));
      const floorUs = median(floors);
      const wallMs = median(single.map((r) => r.wallMs));
      const wallMsMulti = median(multi.map((r) => r.wallMs));
      const ours = single[0] as (typeof single)[number];
      print({
        case: "throughput",
        suite,
        eventsPerRecord,
        records: count,
        repeat: REPEAT,
        events: ours.summary.events,
        objectMB: +(objectBytes / 1e6).toFixed(1),
        wallMs: Math.round(wallMs),
        recordsPerSec: Math.round(count / (wallMs / 1000)),
        plaintextMBps: +(ours.summary.bytesOut / 1e6 / (wallMs / 1000)).toFixed(1),
        plaintextMB: +(ours.summary.bytesOut / 1e6).toFixed(2),
        outputMB: +(ours.summary.bytesWritten / 1e6).toFixed(2),
        cpuUsPerRecord: +cpuUsPerRecord.toFixed(1),
        floorCpuUsPerRecord: +floorUs.toFixed(1),
        oursOverFloor: +(cpuUsPerRecord / floorUs).toFixed(2),
        oursOverFloorEachRun: single.map((r, i) => +(cpuUs(r) / (floors[i] as number)).toFixed(2)),
        peakRssMB: Math.max(...single.map((r) => r.peakRssMB)),
        kmsCalls: ours.kmsCalls,
        distinctDataKeys: DISTINCT / ROTATE,
        cpus: availableParallelism(),
        workers: availableParallelism(),
        wallMsAllCpus: Math.round(wallMsMulti),
        recordsPerSecAllCpus: Math.round(count / (wallMsMulti / 1000)),
        cpuUsPerRecordAllCpus: +median(multi.map(cpuUs)).toFixed(1),
        speedupAllCpus: +(wallMs / wallMsMulti).toFixed(2),
        peakRssMBAllCpus: Math.max(...multi.map((r) => r.peakRssMB)),
        kmsCallsAllCpus: (multi[0] as (typeof multi)[number]).kmsCalls,
        ...(redacted.length === 0
          ? {}
          : {
              redaction: Object.entries(REDACTION_ENV)
                .map(([name, value]) => `${name}=${value}`)
                .join(" "),
              cpuUsPerEvent: +(cpuUsPerRecord / eventsPerRecord).toFixed(2),
              redactedCpuUsPerEvent: +(median(redacted.map(cpuUs)) / eventsPerRecord).toFixed(2),
              redactedOverPlain: +(median(redacted.map(cpuUs)) / cpuUsPerRecord).toFixed(2),
              redactedOverPlainEachRun: redacted.map(
                (r, i) => +(cpuUs(r) / cpuUs(single[i] as typeof r)).toFixed(2),
              ),
              redactedEventsWritten: (redacted[0] as (typeof redacted)[number]).summary.events,
              statementsRedactedWhole: (redacted[0] as (typeof redacted)[number]).summary
                .statementsUnreadable,
            }),
        ...(lake.length === 0
          ? {}
          : {
              securityLakeCpuUsPerEvent: +(median(lake.map(cpuUs)) / eventsPerRecord).toFixed(2),
              securityLakeOverPlain: +(median(lake.map(cpuUs)) / cpuUsPerRecord).toFixed(2),
              securityLakeRows: (lake[0] as (typeof lake)[number]).summary.securityLake?.rows,
              securityLakePeakRssMB: Math.max(...lake.map((r) => r.peakRssMB)),
            }),
      });
    }

    for (const suite of ONLY === "memory" || CASE !== undefined ? [] : (["unsigned", "signed"] as const)) {
      const records = distinct.get(`${suite}-1`) as Fixture[];
      await servers.ask("reset");
      const key = `raw/naive-${suite}/2026/11/25/11/bench-${NAIVE}`;
      await upload(s3, key, records, NAIVE);
      // Both on one CPU: the naive approach has no use for a second one.
      pinTo(ONE_CPU);
      const naive = await runNaive(s3, kms, key);
      pinTo(ALL_CPUS);
      const ours = await runOurs(servers, key, 0, ONE_CPU);
      print({
        case: "naive-vs-ours",
        suite,
        eventsPerRecord: 1,
        records: NAIVE,
        naiveWallMs: Math.round(naive.wallMs),
        oursWallMs: Math.round(ours.wallMs),
        naiveOverOurs: +(naive.wallMs / ours.wallMs).toFixed(1),
        oursKmsCalls: ours.kmsCalls,
      });
    }

    const sample = distinct.get("unsigned-1") as Fixture[];
    const sampleBytes = Buffer.concat(sample.flatMap((r) => [r.bytes, NEWLINE]));
    for (const [name, split] of ONLY === "memory" || CASE !== undefined
      ? []
      : ([
          // Both yield parsed records, so splitRecords' pieces are JSON.parse'd as the decryptor does.
          ["splitRecords + JSON.parse", parsedPieces],
          ["stream-json", splitWithStreamJson],
        ] as const)) {
      const rounds = 20;
      const started = performance.now();
      let count = 0;
      for (let round = 0; round < rounds; round += 1) {
        for await (const _ of split(chunks(sampleBytes, 64 * 1024))) count += 1;
      }
      const ms = performance.now() - started;
      print({
        case: "split",
        parser: name,
        records: count,
        MBps: +((sampleBytes.length * rounds) / 1e6 / (ms / 1000)).toFixed(1),
      });
    }

    if (BIG_MB > 0) {
      const bundle = await buildLambdaBundle();
      const recordBytes = (sample[0]?.bytes.length ?? 1) + 1;
      for (const mb of [100, BIG_MB]) {
        await servers.ask("reset");
        const count = Math.ceil((mb * 1048576) / recordBytes);
        const key = `raw/memory/2026/11/25/12/bench-${mb}MiB`;
        const objectBytes = await upload(s3, key, sample, count);
        const warmUpKey = "raw/memory/2026/11/25/11/warm-up";
        await upload(s3, warmUpKey, sample, Math.ceil((WARM_UP_MB * 1048576) / recordBytes));
        // The handler alone in a fresh process, as in Lambda: the benchmark's own fixtures do not
        // count. Once decrypting in its own thread (one vCPU), once with one worker per CPU; each
        // in a new container (cold) and in one that has done a 100 MiB object before (warm).
        for (const [workers, warm, withLake] of [0, availableParallelism()].flatMap((n) => [
          [n, false, false] as const,
          [n, true, false] as const,
          // The OCSF Parquet output too, on the largest object: its row groups must not grow memory.
          ...(SECURITY_LAKE && mb === BIG_MB ? [[n, false, true] as const] : []),
        ])) {
          if (MEMORY_WORKERS !== undefined && Number(MEMORY_WORKERS) !== workers) continue;
          if (COLD_ONLY && warm) continue;
          if (SECURITY_LAKE_ONLY && !withLake) continue;
          const runs: MemoryRun[] = [];
          let kmsCalls = 0;
          for (let round = 0; round < MEMORY_REPEAT; round += 1) {
            const before = await servers.ask("calls");
            runs.push(
              await runMemoryCase(
                bundle,
                key,
                workers,
                warm ? warmUpKey : undefined,
                withLake ? SECURITY_LAKE_ENV : {},
              ),
            );
            const after = await servers.ask("calls");
            kmsCalls = Math.max(kmsCalls, (after.Decrypt ?? 0) - (before.Decrypt ?? 0));
          }
          const wallMs = median(runs.map((run) => run.wallMs));
          print({
            case: "memory",
            workers,
            container: warm ? `warm (${WARM_UP_MB} MiB object before)` : "cold",
            environment: functionEnvironment(memorySizeFor(workers)),
            ...(HEAP_MB === undefined ? {} : { heapMB: Number(HEAP_MB) }),
            ...(withLake ? { output: "NDJSON + OCSF Parquet (SECURITY_LAKE_BUCKET)" } : {}),
            objectMB: +(objectBytes / 1e6).toFixed(1),
            records: count,
            wallMs,
            recordsPerSec: Math.round(count / (wallMs / 1000)),
            rssBeforeMB: median(runs.map((run) => run.rssBeforeMB)),
            peakRssMB: median(runs.map((run) => run.peakRssMB)),
            rssHighWaterMB: median(runs.map((run) => run.rssHighWaterMB ?? 0)),
            rssHighWaterMBEach: runs.map((run) => run.rssHighWaterMB),
            // The handler's thread when its RSS peaked (workers' heaps are in RSS, not here).
            atPeakMBEach: runs.map((run) => run.atPeakMB),
            kmsCalls,
          });
        }
      }
    }
  } finally {
    s3.destroy();
    kms.destroy();
    servers.child.stdin.end();
    await once(servers.child, "exit");
  }
}

interface MemoryRun {
  readonly wallMs: number;
  readonly records: number;
  readonly rssBeforeMB: number;
  readonly peakRssMB: number;
  readonly rssHighWaterMB: number | null;
  readonly atPeakMB: Readonly<Record<string, number>>;
}

/**
 * One memory run: the Lambda bundle alone in a fresh `node`, with the function's own NODE_OPTIONS
 * and glibc settings (from the stack's configuration, as Lambda would start it) and the bench's
 * extra flags.
 */
async function runMemoryCase(
  bundle: string,
  key: string,
  workers: number,
  warmUpKey: string | undefined,
  env: Record<string, string> = {},
): Promise<MemoryRun> {
  const flags = [
    ...(HEAP_MB === undefined ? [] : [`--max-old-space-size=${HEAP_MB}`]),
    ...(process.env.BENCH_CHILD_FLAGS ?? "").split(" ").filter(Boolean),
  ];
  const runArgs = ["bench/memory-run.mjs", key, bundle, ...(warmUpKey === undefined ? [] : [warmUpKey])];
  const child = spawn(process.execPath, [...flags, ...runArgs], {
    env: {
      ...process.env,
      ...functionEnvironment(memorySizeFor(workers)),
      DECRYPT_WORKERS: String(workers),
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
      ...env,
    },
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number];
  if (code !== 0) throw new Error(`memory run exited ${code}`);
  if (process.env.BENCH_CHILD_LOG !== undefined)
    (await import("node:fs")).appendFileSync(process.env.BENCH_CHILD_LOG, output);
  return JSON.parse(output.trim().split("\n").at(-1) ?? "") as MemoryRun;
}

/**
 * The function's bundle, built with the esbuild options `serverless.yml` gives serverless-esbuild
 * (one ESM file, every dependency inside), so the memory cases load what Lambda loads.
 */
async function buildLambdaBundle(): Promise<string> {
  const { build } = await import("esbuild");
  const outfile = ".bench/functions/decrypt.mjs";
  await build({
    entryPoints: ["functions/decrypt.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return outfile;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function* parsedPieces(input: AsyncIterable<Buffer>): AsyncGenerator<unknown> {
  for await (const piece of splitRecords(input, { maxRecordBytes: 1 << 22 })) {
    if (piece.kind === "record") yield JSON.parse(piece.bytes.toString("utf8"));
  }
}

async function* chunks(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

await main();
