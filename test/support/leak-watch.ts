import { inspect } from "node:util";
import { createHandler, type DecryptHandler } from "../../src/lambda/handler.ts";
import type { ObjectMetrics } from "../../src/lambda/metrics.ts";
import type { InnerRecord } from "../../src/local/fixtures.ts";
import type { LocalStack } from "../../src/local/stack.ts";
import { CapturingLog } from "./harness.ts";

/** Event fields that are names of the stream, not audit content, and may be logged. */
const NOT_SECRET_FIELDS = new Set(["clusterId", "instanceId", "type"]);
/** Shorter strings (`READ`, `0`, `TCP`) are too common to mean anything when found. */
const MIN_SECRET_LENGTH = 10;

/**
 * Collects everything a test file's handler runs logged (capturing loggers, stdout/stderr where
 * Powertools writes, and the errors thrown) and the secrets of the fixtures they ran on (event
 * strings and SQL text, base64 ciphertext, plaintext data keys), and reports any secret found.
 */
export class LeakWatch {
  readonly #secrets = new Map<string, string>();
  readonly #logs: CapturingLog[] = [];
  readonly #metrics: RecordingMetrics[] = [];
  readonly #errors: unknown[] = [];
  readonly #streamed: string[] = [];
  #restore: (() => void) | undefined;

  /** A capturing logger whose lines are scanned. */
  log(): CapturingLog {
    const log = new CapturingLog();
    this.#logs.push(log);
    return log;
  }

  /** A handler on the local stack whose logs and metrics are kept here for the scan. */
  handlerFor(
    stack: LocalStack,
    env: Record<string, string>,
  ): { handler: DecryptHandler; log: CapturingLog; metrics: RecordingMetrics } {
    const log = this.log();
    const metrics = new RecordingMetrics();
    this.#metrics.push(metrics);
    return { handler: createHandler({ ...stack.env, ...env }, { logger: log, metrics }), log, metrics };
  }

  /** Keeps a thrown error (message, stack, causes, fields) for the scan. */
  noteError(error: unknown): void {
    this.#errors.push(error);
  }

  /** Every string of every event (SQL text, bind values, users, hosts …) is a secret. */
  addRecords(records: readonly InnerRecord[]): void {
    for (const record of records) {
      for (const event of record.databaseActivityEventList) {
        for (const [field, value] of Object.entries(event)) {
          if (NOT_SECRET_FIELDS.has(field)) continue;
          for (const text of strings(value)) this.#add(text, `event field ${field}`);
        }
        const json = JSON.stringify(event);
        this.#add(json.slice(1, 40), "serialized event");
      }
    }
  }

  /** The base64 ciphertext (message and data key) of outer records: windows of 24 characters. */
  addRawRecord(bytes: Buffer): void {
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const name of ["databaseActivityEvents", "key"]) {
      const text = fields[name];
      if (typeof text !== "string" || text.length < 72) continue;
      for (const at of [0, Math.floor(text.length / 2), text.length - 24])
        this.#add(text.slice(at, at + 24), `ciphertext ${name}`);
    }
  }

  /** A plaintext data key, in the encodings it could leak in. */
  addDataKey(material: Uint8Array): void {
    const bytes = Buffer.from(material);
    this.#add(bytes.toString("base64"), "data key (base64)");
    this.#add(bytes.toString("hex"), "data key (hex)");
  }

  /** Takes what goes to stdout and stderr (Powertools Logger and Metrics write there) until stopped. */
  captureStdio(): void {
    if (this.#restore !== undefined) return;
    const out = process.stdout.write;
    const err = process.stderr.write;
    const tap =
      () =>
      (chunk: unknown, ...rest: unknown[]): boolean => {
        this.#streamed.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
        // Kept for the scan, not printed: the EMF and JSON lines would only clutter the test report.
        const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
        callback?.();
        return true;
      };
    process.stdout.write = tap() as typeof process.stdout.write;
    process.stderr.write = tap() as typeof process.stderr.write;
    this.#restore = () => {
      process.stdout.write = out;
      process.stderr.write = err;
    };
  }

  stopStdio(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  /** Lines written to stdout/stderr while capturing. */
  streamed(): string[] {
    return this.#streamed.join("").split("\n");
  }

  /** How much was scanned, so a test can show the scan was not vacuous. */
  size(): { secrets: number; logLines: number; errors: number; streamedBytes: number } {
    return {
      secrets: this.#secrets.size,
      logLines: this.#logs.reduce((sum, log) => sum + log.lines.length, 0),
      errors: this.#errors.length,
      streamedBytes: this.#streamed.reduce((sum, text) => sum + text.length, 0),
    };
  }

  /** The secrets found in `text` (default: everything collected), with what each one is. */
  findLeaks(text = this.#everything()): string[] {
    const found: string[] = [];
    for (const [secret, what] of this.#secrets) if (text.includes(secret)) found.push(`${what}: ${secret}`);
    return found;
  }

  #everything(): string {
    return [
      ...this.#logs.map((log) => log.text()),
      ...this.#metrics.map((metrics) => JSON.stringify(metrics.blobs)),
      ...this.#errors.map((error) => inspect(error, { depth: 8, showHidden: false })),
      ...this.#streamed,
    ].join("\n");
  }

  #add(text: string, what: string): void {
    if (text.length >= MIN_SECRET_LENGTH) this.#secrets.set(text, what);
  }
}

function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(strings);
  return [];
}

/** Keeps each published metrics blob (name → value, metadata included) instead of printing EMF. */
export class RecordingMetrics implements ObjectMetrics {
  readonly blobs: Record<string, string | number>[] = [];
  #current: Record<string, string | number> = {};
  addMetric(name: string, _unit: string, value: number): this {
    this.#current[name] = value;
    return this;
  }
  addMetadata(key: string, value: string): this {
    this.#current[key] = value;
    return this;
  }
  publishStoredMetrics(): this {
    this.blobs.push(this.#current);
    this.#current = {};
    return this;
  }
}
