import { gzipSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { type GzipFailure, gunzipIfCompressed } from "../../../src/source/decompress.ts";

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function inflate(bytes: Buffer, size: number) {
  const failures: GzipFailure[] = [];
  const out: Buffer[] = [];
  for await (const chunk of gunzipIfCompressed(chunked(bytes, size), { onFailure: (f) => failures.push(f) }))
    out.push(chunk);
  return { out: Buffer.concat(out), failures };
}

describe("gunzipIfCompressed with onFailure", () => {
  const plain = Buffer.from(
    Array.from({ length: 400 }, (_, i) => `{"n":${i},"pad":"${"x".repeat(i % 50)}"}`).join("\n"),
  );
  const compressed = gzipSync(plain);

  test("every cut point ends (never hangs), yields a prefix of the plaintext and reports the cut", async () => {
    for (let cut = 2; cut < compressed.length; cut += 7) {
      const { out, failures } = await inflate(compressed.subarray(0, cut), 64);
      expect(plain.subarray(0, out.length).equals(out)).toBe(true);
      expect(failures).toEqual([{ reason: "gzip-truncated", decompressedBytes: out.length }]);
    }
  });

  test("a cut in the trailer loses no plaintext", async () => {
    const { out, failures } = await inflate(compressed.subarray(0, -3), 1000);
    expect(out.equals(plain)).toBe(true);
    expect(failures).toEqual([{ reason: "gzip-truncated", decompressedBytes: plain.length }]);
  });

  test("corrupt data is reported as gzip-corrupt after the bytes before it", async () => {
    const body = Buffer.concat([compressed, Buffer.from("trailing junk")]);
    const { out, failures } = await inflate(body, 100);
    expect(plain.subarray(0, out.length).equals(out)).toBe(true);
    expect(failures).toEqual([{ reason: "gzip-corrupt", decompressedBytes: out.length }]);
  });

  test("a whole object reports nothing", async () => {
    const { out, failures } = await inflate(compressed, 333);
    expect(out.equals(plain)).toBe(true);
    expect(failures).toEqual([]);
  });

  test("an error of the source itself is thrown, not reported as a GZIP failure", async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield compressed.subarray(0, 50);
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    }
    const failures: GzipFailure[] = [];
    const run = async () => {
      for await (const _ of gunzipIfCompressed(broken(), { onFailure: (f) => failures.push(f) })) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow("socket hang up");
    expect(failures).toEqual([]);
  });
});
