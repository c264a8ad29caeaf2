import { randomBytes } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { RecordError } from "../../../src/config/errors.ts";
import { InflatedPayloads, MAX_INNER_RECORD_BYTES } from "../../../src/decrypt/inflate-payloads.ts";

/** One `gunzipSync` per payload, as a record alone would be inflated: the reference. */
function oneByOne(payloads: readonly (Buffer | undefined)[]) {
  return payloads.map((payload) => {
    if (payload === undefined) return undefined;
    try {
      return gunzipSync(payload, { maxOutputLength: MAX_INNER_RECORD_BYTES }).toString("utf8");
    } catch (error) {
      return (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE"
        ? "inner-too-large"
        : "gunzip-failed";
    }
  });
}

/** Each payload's text or error reason, from one {@link InflatedPayloads}. */
function inflatePayloads(payloads: readonly (Buffer | undefined)[]) {
  const inflated = new InflatedPayloads(payloads);
  return payloads.map((_, i) => {
    const bytes = inflated.bytes(i);
    return bytes === undefined || bytes instanceof RecordError ? bytes : bytes.toString("utf8");
  });
}

function verdicts(texts: ReturnType<typeof inflatePayloads>) {
  return texts.map((text) => (text instanceof RecordError ? text.reason : text));
}

const gz = (text: string) => gzipSync(text);
const json = (i: number) => JSON.stringify({ type: "DatabaseActivityMonitoringRecord", n: i, é: "ü€😀" });
const withTrailer = (payload: Buffer, size: number) => {
  const copy = Buffer.from(payload);
  copy.writeUInt32LE(size, copy.length - 4);
  return copy;
};

// Payloads that a record alone inflates in some odd way, or not at all; each is put among good ones.
const ODD: Record<string, Buffer | undefined> = {
  "no payload (the record failed earlier)": undefined,
  "an empty text": gz(""),
  "two members": Buffer.concat([gz("first "), gz("second")]),
  "an empty member, then one": Buffer.concat([gz(""), gz("after an empty member")]),
  "trailing zero bytes": Buffer.concat([gz("padded"), Buffer.alloc(7)]),
  "trailing garbage": Buffer.concat([gz("garbage after"), Buffer.from("xyz")]),
  truncated: gz(json(1)).subarray(0, -5),
  "no trailer": gz(json(2)).subarray(0, -8),
  "not gzip": Buffer.from("this is not gzip data at all, no"),
  "too short": Buffer.from([0x1f, 0x8b]),
  "a size that lies (smaller)": withTrailer(gz(json(3)), 5),
  "a size that lies (larger)": withTrailer(gz(json(4)), 5000),
  "a size that lies (zero)": withTrailer(gz(json(5)), 0),
  "a wrong CRC": (() => {
    const bad = Buffer.from(gz(json(6)));
    bad[bad.length - 8] = (bad[bad.length - 8] as number) ^ 1;
    return bad;
  })(),
  "more than a group (5 MiB)": gz("x".repeat(5 * 1024 * 1024)),
  "past the record limit": gzipSync(Buffer.alloc(MAX_INNER_RECORD_BYTES + 1, 0x20)),
};

describe("InflatedPayloads gives what one gunzip per payload gives", () => {
  test("good payloads of any size, inflated together", () => {
    const payloads = Array.from({ length: 300 }, (_, i) =>
      gz(i % 7 === 0 ? randomBytes(20_000 + i).toString("base64") : json(i)),
    );
    const texts = inflatePayloads(payloads);
    expect(texts).toEqual(oneByOne(payloads));
    expect(texts.every((text) => typeof text === "string")).toBe(true);
  });

  test("payloads whose sizes pass the group limit are cut into several groups", () => {
    const payloads = Array.from({ length: 12 }, (_, i) => gz(`${i}`.repeat(700_000)));
    expect(inflatePayloads(payloads)).toEqual(oneByOne(payloads));
  });

  for (const [name, odd] of Object.entries(ODD)) {
    test(`${name}: first, in the middle and last among good payloads`, () => {
      const good = Array.from({ length: 5 }, (_, i) => gz(json(i)));
      for (const payloads of [
        [odd, ...good],
        [...good.slice(0, 2), odd, ...good.slice(2)],
        [...good, odd],
        [odd],
        [odd, odd, ...good],
      ]) {
        expect(verdicts(inflatePayloads(payloads))).toEqual(oneByOne(payloads));
      }
    });
  }

  test("a payload padded with 1 to 3 zero bytes does not pass its text on to the next one", () => {
    // Zero padding shifts the declared size; the sizes below make the declared sum match the output.
    for (const zeros of [1, 2, 3]) {
      const padded = Buffer.concat([gz("a".repeat(256)), Buffer.alloc(zeros)]);
      const declared = padded.readUInt32LE(padded.length - 4);
      const next = gz("b".repeat(256 - declared));
      const payloads = [padded, next];
      expect(verdicts(inflatePayloads(payloads))).toEqual(oneByOne(payloads));
    }
  });

  test("a member cut across two payloads is not stitched back together", () => {
    const first = gz(json(1));
    const second = Buffer.from(gz(json(2)));
    // The second member's MTIME (ignored by gunzip) set so that the first payload declares the first text's size.
    second.writeUInt32LE(Buffer.byteLength(json(1)), 4);
    for (const cut of [8, 10, 14]) {
      const payloads = [Buffer.concat([first, second.subarray(0, cut)]), second.subarray(cut), gz(json(3))];
      expect(verdicts(inflatePayloads(payloads))).toEqual(oneByOne(payloads));
    }
  });

  test("every odd payload together, between good ones", () => {
    const payloads = Object.values(ODD).flatMap((odd, i) => [gz(json(i)), odd, gz(json(-i))]);
    expect(verdicts(inflatePayloads(payloads))).toEqual(oneByOne(payloads));
  });
});
