import { describe, expect, test } from "vitest";
import {
  AccountingError,
  ResourceIdMismatchError,
  TooManyBadRecordsError,
} from "../../../src/config/errors.ts";
import { parseResourceId } from "../../../src/decrypt/resource-id.ts";
import { REFUSALS_BEFORE_CONFIG_ERROR, RecordLedger } from "../../../src/output/record-ledger.ts";

const ledger = (maxQuarantined = 100) =>
  new RecordLedger({
    maxQuarantined,
    resource: parseResourceId("cluster-ABC", "DAS_RESOURCE_ID"),
    resourceVariable: "DAS_RESOURCE_ID",
    location: { bucket: "b", key: "k" },
  });

async function* items(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i += 1) yield i;
}

describe("RecordLedger", () => {
  test("counts pieces in and balances records in = decrypted + quarantined", async () => {
    const books = ledger();
    for await (const _ of books.countIn(items(5))) {
      // consumed
    }
    books.noteDecrypted();
    books.noteQuarantined("invalid-json");
    books.noteQuarantined("invalid-json");
    expect(books.reasons).toEqual({ "invalid-json": 2 });
    expect(() => books.close(3)).not.toThrow();
    expect(() => books.close(2)).toThrow(AccountingError);
  });

  test(`${REFUSALS_BEFORE_CONFIG_ERROR} KMS refusals before any accepted data key stop the object`, () => {
    const books = ledger();
    for (let i = 1; i < REFUSALS_BEFORE_CONFIG_ERROR; i += 1) books.noteQuarantined("kms-invalid-ciphertext");
    expect(() => books.noteQuarantined("kms-invalid-ciphertext")).toThrow(ResourceIdMismatchError);
  });

  test("refusals after a data key was accepted are ordinary bad records", async () => {
    const books = ledger();
    for await (const _ of books.countIn(items(11))) {
      // consumed
    }
    books.noteQuarantined("gunzip-failed"); // this record's data key was accepted by KMS
    for (let i = 0; i < 10; i += 1) books.noteQuarantined("kms-invalid-ciphertext");
    expect(() => books.close(0)).not.toThrow();
    expect(books.reasons).toEqual({ "gunzip-failed": 1, "kms-invalid-ciphertext": 10 });
  });

  test("refusals with none accepted by the end are a configuration error even below the early limit", () => {
    const books = ledger();
    books.noteQuarantined("kms-invalid-ciphertext");
    books.noteQuarantined("invalid-json"); // never reached KMS: proves nothing either way
    expect(() => books.close(0)).toThrow(/DAS_RESOURCE_ID looks wrong.*aws:rds:dbc-id=cluster-ABC/);
  });

  test("one quarantined record over the limit fails, with counts by reason", () => {
    const books = ledger(2);
    books.noteQuarantined("garbage");
    books.noteQuarantined("truncated");
    expect(() => books.noteQuarantined("garbage")).toThrow(TooManyBadRecordsError);
    expect(() => books.noteQuarantined("garbage")).toThrow(/garbage: 3, truncated: 1/);
  });
});
