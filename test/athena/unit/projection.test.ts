// biome-ignore-all lint/suspicious/noTemplateCurlyInString: serverless, CloudFormation and projection variables are literal text here
import { describe, expect, test } from "vitest";
import { dateProjection, formatDate, partitionOf, valuePattern } from "../../../src/athena/projection.ts";

const PARAMETERS = {
  "projection.enabled": "true",
  "projection.datehour.type": "date",
  "projection.datehour.format": "yyyy/MM/dd/HH",
  "projection.datehour.range": "2024/01/01/00,NOW",
  "projection.datehour.interval": "1",
  "projection.datehour.interval.unit": "HOURS",
  "storage.location.template": "s3://audit-bucket/decrypted/raw/${datehour}/",
};
const NOW = new Date(Date.UTC(2026, 10, 25, 3, 0, 0));

describe("dateProjection reads the table's projection parameters", () => {
  test("bucket, key prefix and suffix around the partition value, format and range", () => {
    expect(dateProjection(PARAMETERS, "datehour")).toEqual({
      column: "datehour",
      bucket: "audit-bucket",
      keyPrefix: "decrypted/raw/",
      keySuffix: "/",
      format: "yyyy/MM/dd/HH",
      rangeStart: "2024/01/01/00",
      rangeEnd: "NOW",
    });
  });

  test.each([
    ["projection off", { "projection.enabled": "false" }, /not enabled/],
    ["not a date", { "projection.datehour.type": "integer" }, /not a date/],
    ["daily steps", { "projection.datehour.interval.unit": "DAYS" }, /one hour/],
    ["template without the column", { "storage.location.template": "s3://b/decrypted/" }, /template/],
    ["unsupported format letter", { "projection.datehour.format": "yyyy/MM/dd/HH/mm" }, /token mm/],
  ])("refuses %s", (_name, change, message) => {
    expect(() => dateProjection({ ...PARAMETERS, ...change }, "datehour")).toThrow(message);
  });
});

describe("partitionOf: the partition Athena reads a key under", () => {
  const projection = dateProjection(PARAMETERS, "datehour");
  test.each([
    [
      "an object in an hour folder",
      "decrypted/raw/2026/11/18/22/das-1-2026-11-18-22-30-00-x.gz",
      "2026/11/18/22",
    ],
    ["the first hour of the range", "decrypted/raw/2024/01/01/00/a.gz", "2024/01/01/00"],
    ["the current hour", "decrypted/raw/2026/11/25/03/a.gz", "2026/11/25/03"],
  ])("%s", (_name, key, value) => {
    expect(partitionOf(projection, key, NOW)).toBe(value);
  });

  test.each([
    ["before the range", "decrypted/raw/2023/12/31/23/a.gz"],
    ["after NOW", "decrypted/raw/2026/11/25/04/a.gz"],
    ["another prefix", "decrypted/other/2026/11/18/22/a.gz"],
    ["a deeper folder", "decrypted/raw/2026/11/18/22/sub/a.gz"],
    ["a day folder", "decrypted/raw/2026/11/18/a.gz"],
    ["the raw object", "raw/2026/11/18/22/a"],
  ])("none for %s", (_name, key) => {
    expect(partitionOf(projection, key, NOW)).toBeUndefined();
  });
});

test("valuePattern and formatDate agree on the Firehose layout", () => {
  const value = formatDate(new Date(Date.UTC(2026, 0, 5, 7)), "yyyy/MM/dd/HH");
  expect(value).toBe("2026/01/05/07");
  expect(new RegExp(`^${valuePattern("yyyy/MM/dd/HH")}$`).test(value)).toBe(true);
  expect(new RegExp(`^${valuePattern("yyyy/MM/dd/HH")}$`).test("2026/1/05/07")).toBe(false);
});
