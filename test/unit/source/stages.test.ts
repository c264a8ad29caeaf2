import { gzipSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { RecordError } from "../../../src/config/errors.ts";
import { DataKeyCache } from "../../../src/decrypt/data-key-cache.ts";
import { decodeBase64 } from "../../../src/decrypt/record-decryptor.ts";
import { type LineCounts, type LineOptions, recordLines } from "../../../src/lines/format-lines.ts";
import type { Piece } from "../../../src/output/bad-piece-entry.ts";
import { isOutputKey, outputKeyFor } from "../../../src/output/output-key.ts";
import { batchPieces } from "../../../src/source/batch-pieces.ts";
import { BufferPool } from "../../../src/source/buffer-pool.ts";
import { gunzipIfCompressed } from "../../../src/source/decompress.ts";
import { mapOrdered } from "../../../src/source/map-ordered.ts";

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

describe("outputKeyFor", () => {
  test("mirrors the key under the prefix, swapping a trailing .gz for the output's own", () => {
    const gzip = { outputPrefix: "decrypted/", outputCompression: "gzip" } as const;
    const none = { outputPrefix: "decrypted/", outputCompression: "none" } as const;
    expect(outputKeyFor("raw/2026/11/25/10/s-1-x.gz", gzip)).toBe("decrypted/raw/2026/11/25/10/s-1-x.gz");
    expect(outputKeyFor("raw/2026/11/25/10/s-1-x", gzip)).toBe("decrypted/raw/2026/11/25/10/s-1-x.gz");
    expect(outputKeyFor("raw/s-1-x.gz", none)).toBe("decrypted/raw/s-1-x");
  });

  test("keys under the output prefix of the same bucket are output keys", () => {
    const config = { outputBucket: undefined, outputPrefix: "decrypted/" };
    expect(isOutputKey("b", "decrypted/raw/x.gz", config)).toBe(true);
    expect(isOutputKey("b", "raw/x.gz", config)).toBe(false);
    expect(isOutputKey("b", "decrypted/raw/x.gz", { ...config, outputBucket: "other" })).toBe(false);
  });
});

describe("decodeBase64", () => {
  test("accepts padded and unpadded base64", () => {
    expect(decodeBase64("AQID", "f")).toEqual(Buffer.from([1, 2, 3]));
    expect(decodeBase64("AQI=", "f")).toEqual(Buffer.from([1, 2]));
    expect(decodeBase64("AQ", "f")).toEqual(Buffer.from([1]));
  });
  test.each(["AQ*D", "A", "AQID!!!!", "AQ ID"])(
    "rejects %j, which Node's decoder would silently skip",
    (text) => {
      expect(() => decodeBase64(text, "key")).toThrow(RecordError);
    },
  );
});

describe("gunzipIfCompressed", () => {
  const plain = Buffer.from('{"a":1}{"b":2}\n'.repeat(50));
  test("passes plain bytes through untouched", async () => {
    for (const size of [1, 2, 7, plain.length]) {
      expect(Buffer.concat(await collect(gunzipIfCompressed(chunked(plain, size))))).toEqual(plain);
    }
  });
  test("gunzips by magic bytes, including concatenated members, at any chunk size", async () => {
    const compressed = Buffer.concat([gzipSync(plain.subarray(0, 100)), gzipSync(plain.subarray(100))]);
    for (const size of [1, 2, 5, compressed.length]) {
      expect(Buffer.concat(await collect(gunzipIfCompressed(chunked(compressed, size))))).toEqual(plain);
    }
  });
  test("an empty object yields nothing", async () => {
    expect(await collect(gunzipIfCompressed(chunked(Buffer.alloc(0), 1)))).toEqual([]);
  });
  test("a cut-off GZIP object fails instead of hanging", async () => {
    const cut = gzipSync(plain).subarray(0, 40);
    await expect(collect(gunzipIfCompressed(chunked(cut, 8)))).rejects.toThrow(/unexpected end of file/);
  });
});

describe("mapOrdered", () => {
  test("keeps input order with calls finishing out of order, never more than the limit in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await collect(
      mapOrdered(chunkless([5, 1, 4, 2, 3, 0, 6]), 3, async (n) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, n * 3));
        inFlight -= 1;
        return n * 10;
      }),
    );
    expect(results).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(peak).toBe(3);
  });
  test("a rejected call surfaces in order", async () => {
    const seen: number[] = [];
    const run = async () => {
      for await (const n of mapOrdered(chunkless([1, 2, 3]), 2, async (n) => {
        if (n === 2) throw new Error("two");
        return n;
      }))
        seen.push(n);
    };
    await expect(run()).rejects.toThrow("two");
    expect(seen).toEqual([1]);
  });
});

async function* chunkless<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe("DataKeyCache", () => {
  test("concurrent lookups of one key share a single load", async () => {
    const cache = new DataKeyCache<string>({ maxEntries: 10, ttlMs: 1000 });
    const stats = { loads: 0, hits: 0 };
    let loads = 0;
    const load = () => new Promise<string>((resolve) => setTimeout(() => resolve(`v${++loads}`), 5));
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.get("k", load, stats)));
    expect(new Set(values)).toEqual(new Set(["v1"]));
    expect(stats).toEqual({ loads: 1, hits: 19 });
  });
  test("evicts the least recently used entry past its bound", async () => {
    const cache = new DataKeyCache<string>({ maxEntries: 2, ttlMs: 1000 });
    const stats = { loads: 0, hits: 0 };
    const load = (v: string) => () => Promise.resolve(v);
    await cache.get("a", load("a"), stats);
    await cache.get("b", load("b"), stats);
    await cache.get("a", load("a"), stats); // a is now the most recent
    await cache.get("c", load("c"), stats); // evicts b
    expect(cache.size).toBe(2);
    await cache.get("a", load("a"), stats);
    await cache.get("b", load("b"), stats);
    expect(stats).toEqual({ loads: 4, hits: 2 });
  });
  test("expires entries after the TTL and forgets failed loads", async () => {
    let now = 0;
    const cache = new DataKeyCache<string>({ maxEntries: 5, ttlMs: 100, now: () => now });
    const stats = { loads: 0, hits: 0 };
    await cache.get("a", () => Promise.resolve("a"), stats);
    now = 150;
    await cache.get("a", () => Promise.resolve("a2"), stats);
    await expect(cache.get("b", () => Promise.reject(new Error("throttled")), stats)).rejects.toThrow(
      "throttled",
    );
    await expect(cache.get("b", () => Promise.resolve("b"), stats)).resolves.toBe("b");
    expect(stats).toEqual({ loads: 4, hits: 0 });
  });
});

describe("recordLines", () => {
  const record = (list: Record<string, unknown>[], cluster = true) => {
    const inner = {
      type: "DatabaseActivityMonitoringRecord",
      ...(cluster ? { clusterId: "cluster-A" } : {}),
      instanceId: "db-B",
      databaseActivityEventList: list,
    };
    return { text: JSON.stringify(inner), record: inner };
  };
  const input = [
    record([{ type: "record", command: "SELECT", exitCode: null }, { type: "heartbeat" }]),
    record([{}], false),
  ];
  const format = (options: LineOptions, counts: LineCounts) =>
    input.map(({ text, record }) => recordLines(text, record, options, counts)).join("");

  test("events: each event's fields untouched, then clusterId when present and instanceId", () => {
    const counts = { events: 0, heartbeatsDropped: 0 };
    expect(format({ format: "events", includeHeartbeats: false }, counts)).toBe(
      '{"type":"record","command":"SELECT","exitCode":null,"clusterId":"cluster-A","instanceId":"db-B"}\n{"instanceId":"db-B"}\n',
    );
    expect(counts).toEqual({ events: 2, heartbeatsDropped: 1 });
  });

  test("events with heartbeats kept", () => {
    const counts = { events: 0, heartbeatsDropped: 0 };
    expect(format({ format: "events", includeHeartbeats: true }, counts).split("\n")[1]).toBe(
      '{"type":"heartbeat","clusterId":"cluster-A","instanceId":"db-B"}',
    );
    expect(counts.events).toBe(3);
  });

  test("records: one line per decrypted record, exactly its text", () => {
    const counts = { events: 0, heartbeatsDropped: 0 };
    expect(format({ format: "records", includeHeartbeats: false }, counts)).toBe(
      `${input[0]?.text}\n${input[1]?.text}\n`,
    );
  });

  test("records: a text with line breaks is re-serialized onto one line", () => {
    const { record: inner } = record([{ type: "record" }]);
    const text = JSON.stringify(inner, null, 2);
    const counts = { events: 0, heartbeatsDropped: 0 };
    expect(recordLines(text, inner, { format: "records", includeHeartbeats: false }, counts)).toBe(
      `${JSON.stringify(inner)}\n`,
    );
  });
});

describe("batchPieces", () => {
  const piece = (index: number, size: number): Piece => ({
    kind: "record",
    index,
    offset: index * size,
    bytes: Buffer.alloc(size, index),
  });

  test("keeps order and cuts at the piece count or when the next piece would not fit the buffer", async () => {
    const pieces = Array.from({ length: 10 }, (_, i) => piece(i, 100));
    const byCount = await collect(batchPieces(chunkless(pieces), 4, new BufferPool(1 << 20, 4)));
    expect(byCount.map((batch) => batch.pieces.map((p) => p.index))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    const byBytes = await collect(batchPieces(chunkless(pieces), 100, new BufferPool(250, 4)));
    expect(byBytes.map((batch) => batch.pieces.length)).toEqual([2, 2, 2, 2, 2]);
  });

  test("copies each piece's bytes into the batch's pooled buffer; a piece too big for it keeps its own", async () => {
    const pieces = [piece(0, 100), piece(1, 300), piece(2, 150)];
    const batches = await collect(batchPieces(chunkless(pieces), 10, new BufferPool(256, 4)));
    expect(batches).toHaveLength(1);
    const [batch] = batches;
    const bytesOf = (p: Piece | undefined) => (p?.kind === "record" ? p.bytes : undefined);
    expect(batch?.pieces.map((p) => p.index)).toEqual([0, 1, 2]);
    for (const [i, kept] of (batch?.pieces ?? []).entries()) {
      expect(bytesOf(kept)?.equals(bytesOf(pieces[i]) ?? Buffer.alloc(0)), `piece ${i}`).toBe(true);
    }
    expect(bytesOf(batch?.pieces[0])?.buffer).toBe(batch?.buffer?.buffer);
    expect(bytesOf(batch?.pieces[2])?.buffer).toBe(batch?.buffer?.buffer);
    expect(bytesOf(batch?.pieces[1])).toBe(bytesOf(pieces[1]));
  });

  test("batches cut by count do not share a buffer: every piece keeps its bytes once all are collected", async () => {
    const pieces = Array.from({ length: 10 }, (_, i) => piece(i, 100));
    const batches = await collect(batchPieces(chunkless(pieces), 3, new BufferPool(1 << 20, 4)));
    expect(batches.map((batch) => batch.pieces.length)).toEqual([3, 3, 3, 1]);
    expect(new Set(batches.map((batch) => batch.buffer)).size).toBe(4);
    for (const p of batches.flatMap((batch) => batch.pieces))
      expect(p.kind === "record" && p.bytes.every((b) => b === p.index), `piece ${p.index}`).toBe(true);
  });

  test("buffers given back are used again: batch after batch, no new allocation", async () => {
    const pool = new BufferPool(1000, 4);
    const pieces = Array.from({ length: 50 }, (_, i) => piece(i, 100));
    for await (const batch of batchPieces(chunkless(pieces), 100, pool)) {
      // Each piece still holds its own bytes, though the buffer under them was used before.
      for (const p of batch.pieces)
        expect(p.kind === "record" && p.bytes.every((b) => b === p.index)).toBe(true);
      if (batch.buffer !== undefined) pool.give(batch.buffer);
    }
    expect(pool.created).toBe(1);
  });

  test("no pieces, no batch", async () => {
    expect(await collect(batchPieces(chunkless([]), 4, new BufferPool(100, 4)))).toEqual([]);
  });
});
