import { hkdfSync, randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { deriveKey } from "../../../src/decrypt/esdk-fast-decrypt.ts";
import { SUITES } from "../../../src/decrypt/esdk-message.ts";

describe("the content key is Node's own HKDF of the data key", () => {
  for (const [suiteId, suite] of SUITES) {
    test(`suite 0x0${suiteId.toString(16)}: HKDF-${suite.hash.toUpperCase()}, empty salt, info = suite id and message id, on 1000 random keys`, () => {
      for (let i = 0; i < 1000; i += 1) {
        const dataKey = randomBytes(32);
        const messageId = randomBytes(16);
        const info = Buffer.concat([Buffer.from([suiteId >> 8, suiteId & 0xff]), messageId]);
        const expected = Buffer.from(hkdfSync(suite.hash, dataKey, Buffer.alloc(0), info, 32));
        expect(deriveKey({ suite, suiteId, messageId }, dataKey)).toEqual(expected);
      }
    });
  }
});
