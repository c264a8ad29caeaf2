import type { Readable } from "node:stream";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../../src/config/config.ts";
import { AwsCallError, ConfigError } from "../../../src/config/errors.ts";
import {
  isQuarantineKey,
  QuarantineWriter,
  quarantineKeyFor,
  quarantineLine,
} from "../../../src/output/quarantine.ts";
import type { ObjectStore, PutTarget } from "../../../src/output/s3-store.ts";

const CLUSTER = "cluster-P74MFUJBI3PYA2N5L22YVVX3VY";

describe("quarantine keys", () => {
  test("mirror the source key under QUARANTINE_PREFIX, a trailing .gz dropped", () => {
    const config = { quarantinePrefix: "quarantine/" };
    expect(quarantineKeyFor("raw/2026/11/25/10/s-1-x.gz", config)).toBe("quarantine/raw/2026/11/25/10/s-1-x");
    expect(quarantineKeyFor("raw/s-1-x", config)).toBe("quarantine/raw/s-1-x");
  });

  test("keys under the quarantine prefix of the output bucket are never processed", () => {
    const config = { outputBucket: undefined, quarantinePrefix: "quarantine/" };
    expect(isQuarantineKey("b", "quarantine/raw/x", config)).toBe(true);
    expect(isQuarantineKey("b", "raw/x", config)).toBe(false);
    expect(isQuarantineKey("b", "quarantine/raw/x", { ...config, outputBucket: "elsewhere" })).toBe(false);
  });
});

describe("quarantineLine", () => {
  const entry = { recordIndex: 4, byteOffset: 1234, length: 9, reason: "garbage", message: "m" };

  test("keeps UTF-8 raw bytes as a string", () => {
    expect(JSON.parse(quarantineLine({ ...entry, raw: Buffer.from('{"a":"é"}') }))).toEqual({
      ...entry,
      rawEncoding: "utf8",
      raw: '{"a":"é"}',
    });
  });

  test("keeps bytes that are not UTF-8 as base64, so nothing is mangled", () => {
    const raw = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    expect(JSON.parse(quarantineLine({ ...entry, raw }))).toMatchObject({
      rawEncoding: "base64",
      raw: raw.toString("base64"),
    });
  });

  test("is exactly one line, whatever the raw bytes hold", () => {
    const line = quarantineLine({ ...entry, raw: Buffer.from("a\nb\r\nc") });
    expect(line.endsWith("\n")).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\r\n]/);
  });
});

describe("QuarantineWriter", () => {
  const target: PutTarget = {
    bucket: "b",
    key: "quarantine/k",
    contentType: "application/x-ndjson",
    metadata: {},
  };
  const fakeStore = () => {
    const calls: { op: string; body?: string }[] = [];
    const store: ObjectStore = {
      get: () => Promise.reject(new Error("unused")),
      async put(_target, body: Readable) {
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
        calls.push({ op: "put", body: Buffer.concat(chunks).toString() });
      },
      putTags: () => Promise.reject(new Error("unused")),
      getTags: () => Promise.reject(new Error("unused")),
      async delete() {
        calls.push({ op: "delete" });
      },
    };
    return { store, calls };
  };
  const entry = (n: number) => ({
    recordIndex: n,
    byteOffset: n,
    length: 1,
    reason: "r",
    message: "m",
    raw: Buffer.from("x"),
  });

  test("with nothing quarantined, commit sends no request at all", async () => {
    const { store, calls } = fakeStore();
    const writer = new QuarantineWriter(store, target);
    await writer.commit();
    expect(writer.started).toBe(false);
    expect(calls).toEqual([]);
  });

  test("a write after the upload failed throws the upload's error, not the cut body's", async () => {
    const { store } = fakeStore();
    const denied = new AwsCallError(
      "s3:PutObject",
      Object.assign(new Error("denied"), { name: "AccessDenied" }),
    );
    store.put = async (_target, body: Readable) => {
      body.destroy();
      throw denied;
    };
    const writer = new QuarantineWriter(store, target);
    await writer.write(entry(1)).catch(() => undefined);
    await expect(writer.write(entry(2))).rejects.toBe(denied);
  });

  test("commits its lines in order as one object", async () => {
    const { store, calls } = fakeStore();
    const writer = new QuarantineWriter(store, target);
    await writer.write(entry(1));
    await writer.write(entry(2));
    await writer.commit();
    expect(calls).toEqual([{ op: "put", body: quarantineLine(entry(1)) + quarantineLine(entry(2)) }]);
  });

  test("discard stops the upload so nothing is committed", async () => {
    const { store, calls } = fakeStore();
    const writer = new QuarantineWriter(store, target);
    await writer.write(entry(1));
    await writer.discard(new Error("object failed"));
    expect(calls).toEqual([]);
  });
});

describe("configuration of quarantine and limits", () => {
  const base = { DAS_RESOURCE_ID: CLUSTER };
  test("defaults: quarantine/ and at most 1000 quarantined records per object", () => {
    expect(loadConfig(base)).toMatchObject({ quarantinePrefix: "quarantine/", maxQuarantinedRecords: 1000 });
  });
  test.each([
    ["an empty QUARANTINE_PREFIX", { QUARANTINE_PREFIX: "" }, "QUARANTINE_PREFIX"],
    ["QUARANTINE_PREFIX equal to OUTPUT_PREFIX", { QUARANTINE_PREFIX: "decrypted/" }, "QUARANTINE_PREFIX"],
    ["QUARANTINE_PREFIX under OUTPUT_PREFIX", { QUARANTINE_PREFIX: "decrypted/q/" }, "QUARANTINE_PREFIX"],
    ["a negative MAX_QUARANTINED_RECORDS", { MAX_QUARANTINED_RECORDS: "-1" }, "MAX_QUARANTINED_RECORDS"],
    ["a MAX_RECORD_BYTES below 1 KiB", { MAX_RECORD_BYTES: "100" }, "MAX_RECORD_BYTES"],
    ["a DATA_KEY_CACHE_SIZE of 0", { DATA_KEY_CACHE_SIZE: "0" }, "DATA_KEY_CACHE_SIZE"],
  ])("rejects %s, naming the variable", (_name, env, variable) => {
    let error: unknown;
    try {
      loadConfig({ ...base, ...env });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
  });
});
