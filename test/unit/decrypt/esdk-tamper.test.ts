/**
 * The tampering helpers of test/support/esdk-tamper.ts, on the official test vectors: the layout
 * reader finds every field, each method yields exactly the forms the framework defines, and the
 * subsets hit what they claim.
 */
import { describe, expect, test } from "vitest";
import {
  allFields,
  changeEdkProviderInfo,
  denseBits,
  denseLengths,
  edgeFrames,
  type Field,
  type MessageLayout,
  mutate,
  parseLayout,
  rawAesProviderInfoVariants,
  sampledBits,
  sampledLengths,
  truncate,
} from "../../support/esdk-tamper.ts";
import { loadVectors, type Vector } from "../../support/esdk-vectors.ts";

const vectors = loadVectors();
const find = (predicate: (v: Vector) => boolean): Vector => {
  const found = vectors.find(predicate);
  if (found === undefined) throw new Error("no such vector");
  return found;
};
const oneKey = find((v) => v.suite === "0378" && v.frameLength === 4096 && v.edkCount === 1);
const twoKeys = find((v) => v.suite === "0178" && v.frameLength === 512 && v.edkCount === 2);
const nonFramed = find((v) => v.suite === "0378" && !v.framed && v.edkCount === 2);
const bytesOf = (m: Buffer, field: Field) => m.subarray(field.start, field.end);
const field = (layout: MessageLayout, name: string): Field => {
  const found = allFields(layout).find((f) => f.name === name);
  if (found === undefined) throw new Error(`no field ${name}`);
  return found;
};
/** The bits that differ between two buffers of one length, numbered as `mutate` numbers them. */
const differingBits = (a: Buffer, b: Buffer): number[] => {
  const bits: number[] = [];
  for (let i = 0; i < a.length; i += 1) {
    const x = (a[i] as number) ^ (b[i] as number);
    for (let k = 0; k < 8; k += 1) if (x & (0x80 >> k)) bits.push(i * 8 + k);
  }
  return bits;
};

describe("parseLayout", () => {
  test("on all 80 vectors: fields back to back from byte 0 to the end, frames numbered from 1, the last one final, 10240 bytes of content", () => {
    for (const v of vectors) {
      const layout = parseLayout(v.ciphertext);
      const fields = allFields(layout);
      expect(fields[0]?.start).toBe(0);
      expect(fields.at(-1)?.end).toBe(v.ciphertext.length);
      for (let i = 1; i < fields.length; i += 1) expect(fields[i]?.start).toBe(fields[i - 1]?.end);
      expect(layout.header.slice(-2).map((f) => f.name)).toEqual(["header.authIv", "header.authTag"]);
      expect(layout.frames.map((frame) => frame.sequence)).toEqual(layout.frames.map((_, i) => i + 1));
      expect(layout.frames.map((frame) => frame.final)).toEqual(
        layout.frames.map((_, i) => i === layout.frames.length - 1),
      );
      const contents = layout.frames.map((frame) => frame.fields.find((f) => f.name.endsWith(".content")));
      expect(contents.reduce((sum, f) => sum + (f ? f.end - f.start : Number.NaN), 0)).toBe(10240);
      if (v.framed) {
        for (const f of contents.slice(0, -1)) expect(f && f.end - f.start).toBe(v.frameLength);
      } else {
        expect(layout.frames).toHaveLength(1);
      }
      expect(layout.footer.map((f) => f.name)).toEqual(
        v.suite === "0378" ? ["footer.signatureLength", "footer.signature"] : [],
      );
    }
  });

  test("the header fields of a message with two data keys, with their kinds", () => {
    const layout = parseLayout(twoKeys.ciphertext);
    const names = layout.header.map((f) => `${f.name}:${f.kind[0]}`);
    expect(names.slice(0, 4)).toEqual([
      "header.version:s",
      "header.type:s",
      "header.suiteId:s",
      "header.messageId:o",
    ]);
    expect(names).toContain("header.edk[1].providerInfo:o");
    expect(names.slice(-6)).toEqual([
      "header.contentType:s",
      "header.reserved:s",
      "header.ivLength:s",
      "header.frameLength:s",
      "header.authIv:o",
      "header.authTag:o",
    ]);
    expect(layout.edks.map((edk) => edk.providerId).sort()).toEqual([
      "ephemeral-aws-xcompat",
      "static-aws-xcompat",
    ]);
  });

  test("refuses what is not a whole version 1 message: cut short, a byte more, version 2, an unknown suite", () => {
    const m = oneKey.ciphertext;
    expect(() => parseLayout(m.subarray(0, m.length - 1))).toThrow(/not a well-formed message/);
    expect(() => parseLayout(Buffer.concat([m, Buffer.from([0])]))).toThrow(/bytes after the end/);
    const v2 = Buffer.from(m);
    v2[0] = 2;
    expect(() => parseLayout(v2)).toThrow(/not a version 1 message/);
    const suite = Buffer.from(m);
    suite.writeUInt16BE(0x0578, 2);
    expect(() => parseLayout(suite)).toThrow(/not a version 1 suite/);
  });
});

describe("truncate", () => {
  test("by default, every prefix from 1 byte to one byte short, each its own copy, the message untouched", () => {
    const m = oneKey.ciphertext;
    const before = Buffer.from(m);
    let expected = 1;
    for (const form of truncate(m)) {
      expect(form.bytes.length).toBe(expected);
      expected += 1;
    }
    expect(expected).toBe(m.length);
    const [first, second] = truncate(m, [40, 22]);
    expect(first?.bytes.equals(m.subarray(0, 40))).toBe(true);
    expect(first?.name).toBe("truncate to 40 bytes, cut inside header.context[0].key");
    expect(second?.name).toBe("truncate to 22 bytes, cut before header.context.count");
    first?.bytes.fill(0);
    expect(m.equals(before)).toBe(true);
  });

  test("given lengths only, each from 1 to length - 1", () => {
    const m = oneKey.ciphertext;
    expect([...truncate(m, [1, 5, m.length - 1])].map((form) => form.bytes.length)).toEqual([
      1,
      5,
      m.length - 1,
    ]);
    expect(() => [...truncate(m, [0])]).toThrow(RangeError);
    expect(() => [...truncate(m, [m.length])]).toThrow(RangeError);
  });
});

describe("mutate", () => {
  test("by default, every bit in order, most significant first: exactly one bit differs in each", () => {
    const m = twoKeys.ciphertext.subarray(0, 64); // any bytes: mutate needs no message structure
    const before = Buffer.from(m);
    let bit = 0;
    for (const form of mutate(m)) {
      expect(differingBits(m, form.bytes)).toEqual([bit]);
      bit += 1;
    }
    expect(bit).toBe(64 * 8);
    expect(m.equals(before)).toBe(true);
  });

  test("bit N is mask 0x80 >> (N % 8) of byte N >> 3, as the python handler's flip_bit", () => {
    const m = Buffer.alloc(4);
    const flipped = [...mutate(m, [0, 7, 8, 31])].map((form) => form.bytes.toString("hex"));
    expect(flipped).toEqual(["80000000", "01000000", "00800000", "00000001"]);
    const [named] = mutate(oneKey.ciphertext, [16]);
    expect(named?.name).toBe("mutate bit 16 (byte 2 mask 0x80 in header.suiteId)");
    expect(() => [...mutate(m, [32])]).toThrow(RangeError);
  });
});

describe("changeEdkProviderInfo", () => {
  const values = ["", "arn:aws:kms:us-west-2:658956600833:alias/EncryptOnly", Buffer.alloc(300, 7), "é"];

  for (const v of [oneKey, twoKeys, nonFramed]) {
    test(`${v.suite} ${v.frameLength} with ${v.edkCount} data keys: every info replaced, its length re-serialized, every other field the same`, () => {
      const before = parseLayout(v.ciphertext);
      const forms = [...changeEdkProviderInfo(v.ciphertext, values)];
      expect(forms).toHaveLength(values.length);
      forms.forEach((form, i) => {
        const value = values[i] as string | Buffer;
        const info = typeof value === "string" ? Buffer.from(value, "utf8") : value;
        const after = parseLayout(form.bytes); // the header still parses: the lengths are right
        expect(after.edks.map((edk) => edk.providerInfo.toString("hex"))).toEqual(
          before.edks.map(() => info.toString("hex")),
        );
        expect(after.edks.map((edk) => edk.providerId)).toEqual(before.edks.map((edk) => edk.providerId));
        const shift = before.edks.reduce((sum, edk) => sum + info.length - edk.providerInfo.length, 0);
        expect(form.bytes.length).toBe(v.ciphertext.length + shift);
        const names = allFields(before).map((f) => f.name);
        expect(allFields(after).map((f) => f.name)).toEqual(names);
        for (const name of names.filter((n) => !/^header\.edk\[\d+\]\.providerInfo/.test(n))) {
          expect(
            bytesOf(form.bytes, field(after, name)).equals(bytesOf(v.ciphertext, field(before, name))),
            name,
          ).toBe(true);
        }
      });
      expect(forms[2]?.name).toBe(`change-edk-provider-info to 0x${"07".repeat(300)} (300 bytes)`);
      expect(forms[3]?.name).toBe('change-edk-provider-info to "é" (2 bytes)');
    });
  }

  test("changed and changed back gives the message again; a value every data key already has is refused", () => {
    const m = oneKey.ciphertext;
    const original = parseLayout(m).edks[0]?.providerInfo ?? Buffer.alloc(0);
    const [changed] = changeEdkProviderInfo(m, ["x"]);
    const [back] = changeEdkProviderInfo(changed?.bytes ?? Buffer.alloc(0), [original]);
    expect(back?.bytes.equals(m)).toBe(true);
    expect(() => [...changeEdkProviderInfo(m, [original])]).toThrow(/already/);
  });
});

describe("rawAesProviderInfoVariants", () => {
  test("nine values, all different from each other and from the info; each changed part where it belongs", () => {
    const info = parseLayout(oneKey.ciphertext).edks[0]?.providerInfo ?? Buffer.alloc(0);
    expect(info.subarray(0, 9).toString()).toBe("AES.256..");
    expect([info.readUInt32BE(9), info.readUInt32BE(13)]).toEqual([128, 12]);
    const variants = rawAesProviderInfoVariants(info);
    const hex = variants.map(({ value }) => Buffer.from(value).toString("hex"));
    expect(new Set([...hex, info.toString("hex")]).size).toBe(10);
    const byLabel = new Map(variants.map(({ label, value }) => [label, Buffer.from(value)]));
    expect(byLabel.get("key name changed")?.subarray(0, 9).toString()).toBe("AES.256./");
    expect(byLabel.get("tag length 96 bits")?.readUInt32BE(9)).toBe(96);
    expect(byLabel.get("IV length changed")?.readUInt32BE(13)).toBe(13);
    expect(byLabel.get("IV changed")?.subarray(0, 28).equals(info.subarray(0, 28))).toBe(true);
    expect(byLabel.get("key name alone")?.toString()).toBe("AES.256..");
    expect([byLabel.get("one byte short")?.length, byLabel.get("one byte more")?.length]).toEqual([28, 30]);
  });
});

describe("the subsets", () => {
  test("sampledBits hits every non-empty field of every vector, in range, sorted, without repeats", () => {
    for (const v of vectors) {
      const layout = parseLayout(v.ciphertext);
      for (let r = 0; r < 4; r += 1) {
        const bits = sampledBits(layout, r);
        expect(bits).toEqual([...new Set(bits)].sort((a, b) => a - b));
        expect((bits[0] as number) >= 0 && (bits.at(-1) as number) < v.ciphertext.length * 8).toBe(true);
        const hit = new Set(bits.map((bit) => bit >> 3));
        const missed = allFields(layout).filter(
          (f) => f.start < f.end && !range(f.start, f.end).some((b) => hit.has(b)),
        );
        expect(missed.map((f) => f.name)).toEqual([]);
      }
    }
  });

  test("sampledBits over rotations 0-3 flips all 8 bits of every structure byte of the header, edge frames and footer", () => {
    for (const v of [oneKey, twoKeys, nonFramed]) {
      const layout = parseLayout(v.ciphertext);
      const union = new Set([0, 1, 2, 3].flatMap((r) => sampledBits(layout, r)));
      const edges = edgeFrames(layout).flatMap((frame) => frame.fields);
      for (const f of [...layout.header, ...edges, ...layout.footer].filter((x) => x.kind === "structure")) {
        for (let bit = f.start * 8; bit < f.end * 8; bit += 1)
          expect(union.has(bit), `${f.name} bit ${bit}`).toBe(true);
      }
    }
  });

  test("edge frames: the first two, the last regular and the final frame", () => {
    const frames = (v: Vector) => edgeFrames(parseLayout(v.ciphertext)).map((frame) => frame.sequence);
    expect(frames(twoKeys)).toEqual([1, 2, 20, 21]); // 512-byte frames: 20 regular, a final of 0 bytes
    expect(frames(oneKey)).toEqual([1, 2, 3]); // 4096: two regular frames and a final one of 2048
    expect(frames(nonFramed)).toEqual([1]);
  });

  test("sampledLengths cuts at the end of every field of the header, edge frames and footer, and one byte before", () => {
    for (const v of [oneKey, twoKeys, nonFramed]) {
      const layout = parseLayout(v.ciphertext);
      const lengths = new Set(sampledLengths(layout));
      const edges = edgeFrames(layout).flatMap((frame) => frame.fields);
      for (const f of [...layout.header, ...edges, ...layout.footer]) {
        if (f.end < v.ciphertext.length)
          expect(lengths.has(f.end) && (f.end === 1 || lengths.has(f.end - 1)), f.name).toBe(true);
      }
      for (const frame of layout.frames) {
        const end = frame.fields.at(-1)?.end ?? 0;
        if (end < v.ciphertext.length) expect(lengths.has(end)).toBe(true);
      }
      expect(lengths.has(1) && lengths.has(v.ciphertext.length - 1)).toBe(true);
      expect([...lengths].every((n) => n >= 1 && n < v.ciphertext.length)).toBe(true);
    }
  });

  test("denseBits and denseLengths: all of the header, none of a frame's content", () => {
    const layout = parseLayout(oneKey.ciphertext);
    const headerEnd = layout.header.at(-1)?.end ?? 0;
    const bits = denseBits(layout);
    expect(bits.slice(0, headerEnd * 8)).toEqual(range(0, headerEnd * 8));
    const lengths = denseLengths(layout);
    expect(lengths.slice(0, headerEnd)).toEqual(range(1, headerEnd + 1));
    const contents = allFields(layout).filter((f) => f.name.endsWith(".content"));
    for (const f of contents) {
      expect(
        bits.some((bit) => bit >= f.start * 8 && bit < f.end * 8),
        f.name,
      ).toBe(false);
      expect(
        lengths.some((n) => n > f.start && n < f.end),
        f.name,
      ).toBe(false);
    }
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
