/**
 * The benchmark's local S3 (fauxqs, in memory) and KMS emulator, in their own process so their CPU
 * and memory never count in the handler's figures. Prints its endpoints as one JSON line, then
 * answers `calls` (KMS requests so far) and `reset` on stdin, one JSON line each.
 */
import { createInterface } from "node:readline";
import { startFauxqs } from "fauxqs";
import { startKmsEmulator } from "../src/local/kms-emulator.ts";
import { startS3TagsFront } from "../src/local/s3-tags-front.ts";

const s3 = await startFauxqs({ port: 0, host: "127.0.0.1", logger: false });
// The function tags each output with its counts; fauxqs has no tagging.
const front = await startS3TagsFront(s3.address);
const kms = await startKmsEmulator({
  seed: "bench",
  faults: { latencyMs: Number(process.env.KMS_LATENCY_MS ?? "5") },
});
s3.createBucket("bench");
// Where the Security Lake runs write their Parquet files.
s3.createBucket("bench-lake");
process.stdout.write(`${JSON.stringify({ s3: front.endpoint, kms: kms.endpoint, keyArn: kms.keyArn })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "calls") process.stdout.write(`${JSON.stringify(kms.calls)}\n`);
  if (line === "reset") {
    for (const name of Object.keys(kms.calls)) kms.calls[name] = 0;
    s3.emptyBucket("bench");
    s3.emptyBucket("bench-lake");
    process.stdout.write("{}\n");
  }
}
await front.stop();
await Promise.all([s3.stop(), kms.stop()]);
