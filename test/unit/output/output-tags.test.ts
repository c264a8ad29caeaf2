import type { Readable } from "node:stream";
import { describe, expect, test } from "vitest";
import { AwsCallError } from "../../../src/config/errors.ts";
import { type OutputCounts, readEarlierOutput, settleOutput } from "../../../src/output/output-tags.ts";
import type { ObjectStore } from "../../../src/output/s3-store.ts";

const place = { bucket: "b", outputKey: "decrypted/raw/k.gz", quarantineKey: "quarantine/raw/k" };
const clean: OutputCounts = { recordsIn: 3, records: 3, quarantined: 0, events: 5, heartbeatsDropped: 1 };
const denied = () => new AwsCallError("s3:x", Object.assign(new Error("denied"), { name: "AccessDenied" }));

/** A store that records the tagging and delete requests it is sent. */
function fakeStore(earlierTags: Record<string, string> | undefined | Error) {
  const calls: string[] = [];
  const tagged: Record<string, string>[] = [];
  const store: ObjectStore = {
    get: () => Promise.reject(new Error("unused")),
    put: (_target, _body: Readable) => Promise.reject(new Error("unused")),
    async getTags(_bucket, key) {
      calls.push(`getTags ${key}`);
      if (earlierTags instanceof Error) throw earlierTags;
      return earlierTags;
    },
    async putTags(_bucket, key, tags) {
      calls.push(`putTags ${key}`);
      tagged.push({ ...tags });
    },
    async delete(_bucket, key) {
      calls.push(`delete ${key}`);
    },
  };
  return { store, calls, tagged };
}

describe("what an earlier run's output says", () => {
  test.each([
    ["no earlier output", undefined, "none"],
    ["an output that quarantined nothing", { quarantined: "0" }, "clean"],
    ["an output that quarantined records", { quarantined: "2" }, "may-have-quarantine"],
    ["an output without count tags", {}, "may-have-quarantine"],
    [
      "an output whose stale delete was refused",
      { quarantined: "0", "stale-quarantine": "true" },
      "may-have-quarantine",
    ],
    ["a tag read that failed", new Error("SlowDown"), "may-have-quarantine"],
  ] as const)("%s: %s", async (_name, tags, expected) => {
    const { store } = fakeStore(tags instanceof Error ? tags : tags === undefined ? undefined : { ...tags });
    expect(await readEarlierOutput(store, place, undefined)).toBe(expected);
  });
});

describe("settling a complete output", () => {
  test("a clean run with no earlier quarantine sends nothing under the quarantine prefix, then tags the counts", async () => {
    const { store, calls, tagged } = fakeStore(undefined);
    expect(await settleOutput(store, place, clean, "clean", undefined)).toEqual({});
    expect(calls).toEqual(["putTags decrypted/raw/k.gz"]);
    expect(tagged).toEqual([
      { "records-in": "3", records: "3", quarantined: "0", events: "5", "heartbeats-dropped": "1" },
    ]);
  });

  test("a clean run after one that may have quarantined deletes the quarantine object first", async () => {
    const { store, calls } = fakeStore(undefined);
    expect(await settleOutput(store, place, clean, "may-have-quarantine", undefined)).toEqual({});
    expect(calls).toEqual(["delete quarantine/raw/k", "putTags decrypted/raw/k.gz"]);
  });

  test("a run that quarantined records keeps its own quarantine object", async () => {
    const { store, calls } = fakeStore(undefined);
    const counts = { ...clean, records: 2, quarantined: 1 };
    await settleOutput(store, place, counts, "may-have-quarantine", undefined);
    expect(calls).toEqual(["putTags decrypted/raw/k.gz"]);
  });

  test("a refused delete is reported by name and tagged, so the next run tries again", async () => {
    const { store, tagged } = fakeStore(undefined);
    store.delete = () => Promise.reject(denied());
    expect(await settleOutput(store, place, clean, "may-have-quarantine", undefined)).toEqual({
      staleQuarantineNotDeleted: "AccessDenied",
    });
    expect(tagged[0]).toMatchObject({ quarantined: "0", "stale-quarantine": "true" });
  });

  test("a refused tagging is reported by name, never thrown", async () => {
    const { store } = fakeStore(undefined);
    store.putTags = () => Promise.reject(denied());
    expect(await settleOutput(store, place, clean, "none", undefined)).toEqual({
      countsNotTagged: "AccessDenied",
    });
  });
});
