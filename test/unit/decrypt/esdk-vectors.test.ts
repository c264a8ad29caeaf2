/**
 * The official AWS Encryption SDK test vectors (test/fixtures/esdk-vectors, SOURCE.md there)
 * through `buildMessageDecrypt`, with the vectors' own raw AES key identity: every message
 * decrypts; the shape DAS writes is taken by the direct reader; the tampered forms the test vector
 * framework defines (test/support/esdk-tamper.ts) are all refused; another key refuses them all.
 *
 * Every tampered form of every message is about 7 M decryptions, so `truncate` and `mutate` run on
 * deterministic subsets: on all 80 messages, samples that hit every field of the message; on eight
 * messages of the direct reader's shape, every bit and every cut outside the frames' contents. The
 * test names say which.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { RecordError } from "../../../src/config/errors.ts";
import { DAS_KEY, type KeyIdentity } from "../../../src/decrypt/das-keyring.ts";
import { buildMessageDecrypt } from "../../../src/decrypt/message-decrypt.ts";
import {
  changeEdkProviderInfo,
  denseBits,
  denseLengths,
  mutate,
  parseLayout,
  rawAesProviderInfoVariants,
  sampledBits,
  sampledLengths,
  type TamperedForm,
  truncate,
} from "../../support/esdk-tamper.ts";
import { FIXTURES, fixtureFiles, loadVectors, VECTOR_KEY, type Vector } from "../../support/esdk-vectors.ts";

type Decrypt = (message: Buffer) => Buffer | Promise<Buffer>;

const vectors = loadVectors();
const decryptWith = buildMessageDecrypt(VECTOR_KEY);
const decrypt: Decrypt = (message) => decryptWith(message, VECTOR_KEY.material);
const SUITES = ["0178", "0378"] as const;
const FRAME_LENGTHS = [0, 512, 4096, 10240, 20480];

const label = (v: Vector) =>
  `${v.suite} ${v.framed ? `frame ${v.frameLength}` : "non-framed"}, ${v.edkCount} EDK, ${v.id.slice(0, 8)}`;
const sameShape = (a: Vector, b: Vector) =>
  a.suite === b.suite && a.frameLength === b.frameLength && a.edkCount === b.edkCount;
/** The shape DAS writes, which the direct reader decrypts synchronously. */
const directShape = (v: Vector) => v.framed && v.edkCount === 1;
/** 0-3: the vector's place among the four of its suite, frame length and data key count. */
const rotation = (v: Vector) => vectors.filter((other) => sameShape(other, v)).indexOf(v);
/**
 * For each suite and frame length of a framed message, the first vector with one data key: 8 of the
 * direct reader's shape, whose every check is this repository's code. The other shapes go to the
 * SDK (after the same structural reading), which costs up to 3 ms a form: they get the samples only.
 */
const denseVectors = SUITES.flatMap((suite) =>
  FRAME_LENGTHS.filter((frameLength) => frameLength > 0).map((frameLength) =>
    vectors.find((v) => v.suite === suite && v.frameLength === frameLength && v.edkCount === 1),
  ),
).filter((v): v is Vector => v !== undefined);

/** Why a call did not refuse as it must (a RecordError with a reason), or `undefined` when it did. */
async function refusalProblem(call: () => Buffer | Promise<Buffer>): Promise<string | undefined> {
  try {
    const plaintext = await call();
    return `accepted: ${plaintext.length} bytes of plaintext`;
  } catch (error) {
    if (!(error instanceof RecordError)) {
      return `refused with ${error instanceof Error ? error.name : typeof error}, not a RecordError`;
    }
    return typeof error.reason === "string" && error.reason !== ""
      ? undefined
      : "a RecordError without a reason";
  }
}

/** Runs every form; a failure lists the first forms that were not refused (names only, no bytes). */
async function expectAllRefused(forms: Iterable<TamperedForm>, expectedCount: number): Promise<void> {
  let count = 0;
  const problems: string[] = [];
  for (const form of forms) {
    count += 1;
    const problem = await refusalProblem(() => decrypt(form.bytes));
    if (problem !== undefined) problems.push(`${form.name}: ${problem}`);
  }
  expect({ count, notRefused: problems.length, first: problems.slice(0, 20) }).toEqual({
    count: expectedCount,
    notRefused: 0,
    first: [],
  });
}

describe("the fixture folder (test/fixtures/esdk-vectors)", () => {
  test("holds the manifest's 80 messages, the 10240-byte plaintext, manifest.json, LICENSE, SOURCE.md and rebuild.ts: 85 files", () => {
    const files = fixtureFiles();
    expect(files).toHaveLength(85);
    expect(files.filter((file) => file.startsWith("ciphertext/"))).toEqual(vectors.map((v) => v.file).sort());
    expect(files.filter((file) => !file.startsWith("ciphertext/"))).toEqual([
      "LICENSE",
      "SOURCE.md",
      "manifest.json",
      "plaintext/small",
      "rebuild.ts",
    ]);
    expect(readFileSync(new URL("plaintext/small", FIXTURES))).toHaveLength(10240);
    expect(readFileSync(new URL("LICENSE", FIXTURES), "utf8")).toMatch(/^\s*Apache License\s+Version 2\.0/);
    expect(VECTOR_KEY.material).toHaveLength(32);
    expect({ namespace: VECTOR_KEY.namespace, name: VECTOR_KEY.name }).toEqual({
      namespace: "static-aws-xcompat",
      name: "AES.256..",
    });
  });

  test("80 vectors: 40 per suite, 16 per frame length, 40 with one data key, 4 of each suite, frame length and key count", () => {
    expect(vectors).toHaveLength(80);
    expect(new Set(vectors.map((v) => v.id)).size).toBe(80);
    for (const suite of SUITES) expect(vectors.filter((v) => v.suite === suite)).toHaveLength(40);
    for (const frameLength of FRAME_LENGTHS) {
      expect(vectors.filter((v) => v.frameLength === frameLength)).toHaveLength(16);
    }
    expect(vectors.filter((v) => v.edkCount === 1)).toHaveLength(40);
    expect(vectors.filter((v) => v.edkCount === 2)).toHaveLength(40);
    for (const v of vectors) {
      expect(vectors.filter((other) => sameShape(other, v))).toHaveLength(4);
      expect(v.plaintext).toHaveLength(10240);
    }
    expect(denseVectors).toHaveLength(8);
    expect(denseVectors.every(directShape)).toBe(true);
  });
});

describe("(a) every vector decrypts to its plaintext", () => {
  for (const v of vectors) {
    test(label(v), async () => {
      const plaintext = await decrypt(v.ciphertext);
      expect(plaintext.equals(v.plaintext)).toBe(true);
    });
  }
});

// 40 vectors have one data key, but 8 of them are non-framed: the framed ones with one data key
// are 4 per suite and framed frame length, 32 in all.
describe("(b) the direct reader takes every framed vector with one data key: 32 of the 80", () => {
  test("32 framed vectors with one data key, of 80", () => {
    expect(vectors).toHaveLength(80);
    expect(vectors.filter(directShape)).toHaveLength(32);
  });
  for (const v of vectors.filter(directShape)) {
    test(`${label(v)}: a Buffer, synchronously`, () => {
      const result = decrypt(v.ciphertext);
      expect(result).not.toBeInstanceOf(Promise);
      expect(Buffer.isBuffer(result) && result.equals(v.plaintext)).toBe(true);
    });
  }
});

describe("(c) every tampered form is refused with a RecordError and its reason", () => {
  describe("change-edk-provider-info: every data key's provider info set to each of 9 values (the framework's KMS ARN; empty; the decryptable key's info with its key name, tag length, IV length or IV changed, one byte short, one byte more, its key name alone)", () => {
    for (const v of vectors) {
      test(label(v), async () => {
        const ours = parseLayout(v.ciphertext).edks.find((edk) => edk.providerId === VECTOR_KEY.namespace);
        expect(ours).toBeDefined();
        const values = rawAesProviderInfoVariants(ours?.providerInfo ?? Buffer.alloc(0)).map((x) => x.value);
        await expectAllRefused(changeEdkProviderInfo(v.ciphertext, values), 9);
      });
    }
  });

  describe("truncate, sampled on all 80: at the end of every field and one byte before it in the header, the first two, last regular and final frames and the footer; at the end of every other frame; at 1 and at length - 1", () => {
    for (const v of vectors) {
      const lengths = sampledLengths(parseLayout(v.ciphertext));
      test(`${label(v)}: ${lengths.length} cuts`, async () => {
        await expectAllRefused(truncate(v.ciphertext, lengths), lengths.length);
      });
    }
  });

  describe("mutate, sampled on all 80 (r = 0-3 over the 4 vectors of each suite, frame length and key count): bits r and r+4 of every structure byte and 3 bits of every opaque field of the header, the first two, last regular and final frames and the footer; 1 bit of every field of every other frame", () => {
    for (const v of vectors) {
      const bits = sampledBits(parseLayout(v.ciphertext), rotation(v));
      test(`${label(v)}: ${bits.length} bit flips, r = ${rotation(v)}`, async () => {
        await expectAllRefused(mutate(v.ciphertext, bits), bits.length);
      });
    }
  });

  describe("truncate, dense on the first framed vector with one data key of each suite and frame length (8, the direct reader's shape): every cut in the header, the footer and the fields of the first two, last regular and final frames but their contents", () => {
    for (const v of denseVectors) {
      const lengths = denseLengths(parseLayout(v.ciphertext));
      test(`${label(v)}: ${lengths.length} cuts`, async () => {
        await expectAllRefused(truncate(v.ciphertext, lengths), lengths.length);
      });
    }
  });

  describe("mutate, dense on the same 8 vectors: every bit of the header, the footer and the fields of the first two, last regular and final frames but their contents", () => {
    for (const v of denseVectors) {
      const bits = denseBits(parseLayout(v.ciphertext));
      test(`${label(v)}: ${bits.length} bit flips`, async () => {
        await expectAllRefused(mutate(v.ciphertext, bits), bits.length);
      });
    }
  });
});

const otherMaterial = new Uint8Array(VECTOR_KEY.material);
otherMaterial[0] = (otherMaterial[0] as number) ^ 0x01;
const OTHER_KEYS: [string, KeyIdentity, Uint8Array][] = [
  ["DAS_KEY", DAS_KEY, VECTOR_KEY.material],
  [
    "the vectors' namespace, key name AES.256.x",
    { namespace: VECTOR_KEY.namespace, name: "AES.256.x" },
    VECTOR_KEY.material,
  ],
  [
    "namespace static-aws-xcompax, the vectors' key name",
    { namespace: "static-aws-xcompax", name: VECTOR_KEY.name },
    VECTOR_KEY.material,
  ],
  ["the vectors' identity, a key one bit off", VECTOR_KEY, otherMaterial],
];

describe(`(d) every vector is refused under another key identity or key: ${OTHER_KEYS.map(([what]) => what).join("; ")}; and by buildMessageDecrypt() (DAS_KEY by default)`, () => {
  const attempts: [string, Decrypt][] = OTHER_KEYS.map(([what, identity, material]): [string, Decrypt] => {
    const other = buildMessageDecrypt(identity);
    return [what, (message) => other(message, material)];
  });
  const production = buildMessageDecrypt();
  attempts.push(["buildMessageDecrypt()", (message) => production(message, VECTOR_KEY.material)]);
  for (const v of vectors) {
    test(label(v), async () => {
      const problems: string[] = [];
      for (const [what, attempt] of attempts) {
        const problem = await refusalProblem(() => attempt(v.ciphertext));
        if (problem !== undefined) problems.push(`${what}: ${problem}`);
      }
      expect(problems).toEqual([]);
    });
  }
});
