/**
 * `npm run cost -- <bench output>`: what one million events cost to decrypt, store and query, in
 * dollars, from the JSON lines `npm run bench` printed and the public list prices below. Prints the
 * Markdown tables of docs/cost.md, so every figure there can be made again:
 *
 *   npm run bench -- --big-mb 0 > bench.jsonl && npm run cost -- bench.jsonl
 *
 * The model, per million events of one case (suite × events a record):
 * - Lambda duration: the handler's wall time per event on one CPU (the `auto` mode of a 1769 MB
 *   function, which has one vCPU), times 1769 MB, at the arm64 price; plus one request per object.
 * - KMS: the Decrypt calls the bench counted per event (one per data key per container: the bench
 *   rotates the data key every 250 records); the per-record approach makes one call per record.
 * - S3 requests, per source object of `FIREHOSE_OBJECT_MB` (Firehose's default buffer): a GET and a
 *   tag read, a PUT and a tag write of the output, one more PUT per 5 MiB part past the first.
 * - S3 storage: the gzip output a month (S3 Standard), for as long as plaintextRetentionDays keeps it.
 * - Athena: one saved query that reads a month of output once (JSON is read whole, every column).
 * The per-record approach is the bench's naive case (`naive-vs-ours`, one event a record): its
 * duration is scaled by the ratio measured there, its KMS calls are one per record.
 */
import { readFileSync } from "node:fs";

/** Public list prices, US East (N. Virginia), as the AWS pricing pages give them. */
export const PRICES = {
  /** https://aws.amazon.com/lambda/pricing/ — Arm, first tier. */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  /** https://aws.amazon.com/kms/pricing/ — symmetric requests. */
  kmsPer10kRequests: 0.03,
  /** https://aws.amazon.com/s3/pricing/ — S3 Standard, first 50 TB. */
  s3PerGbMonth: 0.023,
  s3PutPer1k: 0.005,
  s3GetPer1k: 0.0004,
  /** https://aws.amazon.com/athena/pricing/ — SQL queries, per TB scanned. */
  athenaPerTb: 5,
} as const;

const LAMBDA_MB = 1769;
const FIREHOSE_OBJECT_MB = 5;
const PART_MB = 5;

interface Throughput {
  case: "throughput";
  suite: string;
  eventsPerRecord: number;
  records: number;
  events: number;
  objectMB: number;
  outputMB: number;
  wallMs: number;
  kmsCalls: number;
  cpuUsPerEvent?: number;
  redactedCpuUsPerEvent?: number;
  redactedOverPlain?: number;
}

interface Naive {
  case: "naive-vs-ours";
  suite: string;
  naiveOverOurs: number;
}

export interface CaseCost {
  readonly name: string;
  readonly lambda: number;
  readonly kms: number;
  readonly s3Requests: number;
  readonly storageMonth: number;
  readonly athena: number;
  readonly total: number;
  readonly perRecord?: { lambda: number; kms: number; total: number };
}

/** The dollars of one million events of one bench case (and of the per-record approach, when measured). */
export function caseCost(line: Throughput, naive: Naive | undefined): CaseCost {
  const scale = 1e6 / line.events;
  const seconds = (line.wallMs / 1000) * scale;
  const gbSeconds = (LAMBDA_MB / 1024) * seconds;
  const objects = (line.objectMB * scale) / FIREHOSE_OBJECT_MB;
  const lambda = gbSeconds * PRICES.lambdaArmPerGbSecond + (objects / 1e6) * PRICES.lambdaPerMillionRequests;
  const kms = ((line.kmsCalls * scale) / 1e4) * PRICES.kmsPer10kRequests;
  const outputMBPerObject = (line.outputMB * scale) / objects;
  const puts = objects * (2 + Math.max(1, Math.ceil(outputMBPerObject / PART_MB)));
  const s3Requests = (puts / 1000) * PRICES.s3PutPer1k + ((objects * 2) / 1000) * PRICES.s3GetPer1k;
  const outputGb = (line.outputMB * scale) / 1000;
  const storageMonth = outputGb * PRICES.s3PerGbMonth;
  const athena = (outputGb / 1000) * PRICES.athenaPerTb;
  const cost = {
    name: `${line.suite === "signed" ? "0x0378" : "0x0178"}, ${line.eventsPerRecord} event${line.eventsPerRecord === 1 ? "" : "s"} a record`,
    lambda,
    kms,
    s3Requests,
    storageMonth,
    athena,
    total: lambda + kms + s3Requests + storageMonth + athena,
  };
  if (naive === undefined) return cost;
  const records = 1e6 / line.eventsPerRecord;
  const naiveLambda =
    gbSeconds * naive.naiveOverOurs * PRICES.lambdaArmPerGbSecond +
    (objects / 1e6) * PRICES.lambdaPerMillionRequests;
  const naiveKms = (records / 1e4) * PRICES.kmsPer10kRequests;
  return {
    ...cost,
    perRecord: {
      lambda: naiveLambda,
      kms: naiveKms,
      total: naiveLambda + naiveKms + s3Requests + storageMonth + athena,
    },
  };
}

const dollars = (n: number) =>
  n >= 1 ? `$${n.toFixed(2)}` : n >= 0.01 ? `$${n.toFixed(3)}` : `$${Number(n.toPrecision(2))}`;

function main(): void {
  const file = process.argv[2];
  if (file === undefined) {
    console.error("usage: npm run cost -- <file of npm run bench output>");
    process.exit(2);
  }
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { case: string });
  const machine = lines.find((line) => line.case === "machine") as Record<string, unknown> | undefined;
  const throughput = lines.filter((line): line is Throughput => line.case === "throughput");
  const naive = lines.filter((line): line is Naive => line.case === "naive-vs-ours");
  if (throughput.length === 0) throw new Error(`${file} holds no throughput case of npm run bench`);
  console.log(
    `Measured on ${String(machine?.cpuModel ?? "?")}, Node ${String(machine?.node ?? "?")}; prices: US East (N. Virginia) list prices.\n`,
  );
  console.log(
    "| one million events | Lambda | KMS | S3 requests | S3 storage a month | Athena, one full scan | total |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  const costs = throughput.map((line) =>
    caseCost(
      line,
      line.eventsPerRecord === 1 ? naive.find((candidate) => candidate.suite === line.suite) : undefined,
    ),
  );
  for (const c of costs) {
    console.log(
      `| ${c.name} | ${dollars(c.lambda)} | ${dollars(c.kms)} | ${dollars(c.s3Requests)} | ${dollars(c.storageMonth)} | ${dollars(c.athena)} | ${dollars(c.total)} |`,
    );
  }
  const compared = costs.filter((c) => c.perRecord !== undefined);
  if (compared.length > 0) {
    console.log("\n| one million events, one a record | das-decrypt | KMS call per record | ratio |");
    console.log("|---|---:|---:|---:|");
    for (const c of compared) {
      const per = c.perRecord as NonNullable<CaseCost["perRecord"]>;
      console.log(
        `| ${c.name} (Lambda ${dollars(c.lambda)} / ${dollars(per.lambda)}, KMS ${dollars(c.kms)} / ${dollars(per.kms)}) | ${dollars(c.total)} | ${dollars(per.total)} | ${(per.total / c.total).toFixed(1)} × |`,
      );
    }
  }
  const redacted = throughput.filter((line) => line.redactedCpuUsPerEvent !== undefined);
  if (redacted.length > 0) {
    console.log(
      "\n| redaction (CPU per event) | off | REDACT_SQL_LITERALS=true, REDACT_PARAMS=hash | ratio |",
    );
    console.log("|---|---:|---:|---:|");
    for (const line of redacted) {
      console.log(
        `| ${line.suite === "signed" ? "0x0378" : "0x0178"}, ${line.eventsPerRecord} events a record | ${line.cpuUsPerEvent} µs | ${line.redactedCpuUsPerEvent} µs | ${line.redactedOverPlain} × |`,
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
