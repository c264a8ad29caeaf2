import { describe, expect, test } from "vitest";
import { type RawPiece, splitRecords } from "../../../src/source/split-records.ts";

async function split(input: Buffer, chunkSize: number, maxRecordBytes = 1 << 20): Promise<RawPiece[]> {
  async function* chunks() {
    for (let at = 0; at < input.length; at += chunkSize) yield input.subarray(at, at + chunkSize);
  }
  const pieces: RawPiece[] = [];
  for await (const piece of splitRecords(chunks(), { maxRecordBytes })) pieces.push(piece);
  return pieces;
}

const summary = (pieces: RawPiece[]) =>
  pieces.map((piece) =>
    piece.kind === "record"
      ? { kind: piece.kind, index: piece.index, offset: piece.offset, text: piece.bytes.toString() }
      : {
          kind: piece.kind,
          index: piece.index,
          offset: piece.offset,
          reason: piece.reason,
          length: piece.length,
        },
  );

const records = [
  '{"type":"DatabaseActivityMonitoringRecords","version":"1.1","databaseActivityEvents":"AYABeCXm+/==","key":"AQIDAHj1"}',
  '{"a":"brace } and [ inside a string","b":[1,{"c":"\\"quoted\\" \\\\"}],"d":{}}',
  '{"escaped backslash at end\\\\":"x\\\\"}',
  "{}",
];

describe("splitRecords finds every record whatever the chunk boundaries", () => {
  const layouts = {
    concatenated: records.join(""),
    newline: `${records.join("\n")}\n`,
    "mixed whitespace": ` \n${records.join("\r\n\t ")}  \n`,
  };
  for (const [name, text] of Object.entries(layouts)) {
    const input = Buffer.from(text);
    let from = 0;
    const expected = records.map((record, index) => {
      const offset = input.indexOf(record, from);
      from = offset + record.length;
      return { kind: "record", index, offset, text: record };
    });
    test(`${name}: every chunk size from 1 byte to the whole input`, async () => {
      for (let size = 1; size <= input.length; size += 1) {
        expect(summary(await split(input, size)), `chunk size ${size}`).toEqual(expected);
      }
    });
  }
});

describe("splitRecords classifies bad input without throwing", () => {
  test("empty input yields nothing", async () => {
    expect(await split(Buffer.alloc(0), 4)).toEqual([]);
    expect(await split(Buffer.from(" \n\n "), 1)).toEqual([]);
  });

  test("input cut inside a record is reported as truncated at the record's offset", async () => {
    const input = Buffer.from(`${records[0]}\n{"key":"AQID`);
    for (const size of [1, 3, 7, input.length]) {
      const pieces = summary(await split(input, size));
      expect(pieces).toEqual([
        { kind: "record", index: 0, offset: 0, text: records[0] },
        {
          kind: "invalid",
          index: 1,
          offset: (records[0] as string).length + 1,
          reason: "truncated",
          length: 12,
        },
      ]);
    }
  });

  test("garbage between records becomes one piece and the next record is still found", async () => {
    const input = Buffer.from(`${records[3]}garbage]]${records[3]}`);
    for (let size = 1; size <= input.length; size += 1) {
      expect(summary(await split(input, size)), `chunk size ${size}`).toEqual([
        { kind: "record", index: 0, offset: 0, text: "{}" },
        { kind: "invalid", index: 1, offset: 2, reason: "garbage", length: 9 },
        { kind: "record", index: 2, offset: 11, text: "{}" },
      ]);
    }
  });

  test("a record over the size cap is reported too-large without holding its bytes", async () => {
    const big = `{"databaseActivityEvents":"${"A".repeat(500)}"}`;
    const input = Buffer.from(`${big}${records[3]}`);
    for (const size of [1, 16, input.length]) {
      const pieces = await split(input, size, 100);
      expect(summary(pieces)).toEqual([
        { kind: "invalid", index: 0, offset: 0, reason: "too-large", length: big.length },
        { kind: "record", index: 1, offset: big.length, text: "{}" },
      ]);
      expect(pieces[0]?.bytes.length).toBe(0);
    }
  });
});
