/**
 * The official AWS Encryption SDK test vectors of test/fixtures/esdk-vectors (SOURCE.md there):
 * the 80 messages of suites 0x0178 and 0x0378 sealed by aws-encryption-sdk-python 1.3.0 under the
 * static raw AES-256 key, with the plaintext each decrypts to and the key.
 */
import { readdirSync, readFileSync } from "node:fs";
import { parseLayout } from "./esdk-tamper.ts";

export const FIXTURES = new URL("../fixtures/esdk-vectors/", import.meta.url);

export interface Vector {
  /** The test case's uuid (its ciphertext's file name). */
  readonly id: string;
  readonly suite: "0178" | "0378";
  /** 0 for a non-framed message. */
  readonly frameLength: number;
  readonly framed: boolean;
  /** Encrypted data keys in the message: 1, or 2 when an undecryptable `ephemeral-aws-xcompat` one was added. */
  readonly edkCount: number;
  /** The fixture's path below the folder, e.g. `ciphertext/0178/small/512/<uuid>`. */
  readonly file: string;
  readonly ciphertext: Buffer;
  readonly plaintext: Buffer;
}

export interface VectorKey {
  /** The raw AES keyring's key namespace: the encrypted data key's provider id. */
  readonly namespace: string;
  /** The key name: the start of the encrypted data key's provider info. */
  readonly name: string;
  /** The 32-byte AES-256 wrapping key. */
  readonly material: Uint8Array;
}

interface ManifestCase {
  readonly algorithm: string;
  readonly master_keys: readonly { readonly provider_id: string; readonly decryptable: boolean }[];
  readonly plaintext: { readonly filename: string };
  readonly ciphertext: { readonly filename: string };
}
interface Manifest {
  readonly test_cases: readonly ManifestCase[];
  readonly test_keys: {
    readonly AES: { readonly "256": { readonly key: readonly string[]; readonly encoding: string } };
  };
}

const NAMESPACE = "static-aws-xcompat";
const OTHER_NAMESPACE = "ephemeral-aws-xcompat";
/** A raw AES keyring's provider info ends with the tag length, the IV length (4 bytes each) and a 12-byte IV. */
const INFO_AFTER_NAME = 4 + 4 + 12;

function read(path: string): Buffer {
  return readFileSync(new URL(path, FIXTURES));
}

/** Every file below `dir` (a folder URL ending in `/`), as paths relative to the fixture folder. */
export function fixtureFiles(dir: URL = FIXTURES): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(entry.isDirectory() ? `${entry.name}/` : entry.name, dir);
    if (entry.isDirectory()) files.push(...fixtureFiles(url));
    else files.push(url.href.slice(FIXTURES.href.length));
  }
  return files.sort();
}

/**
 * Reads the manifest, the messages and the plaintext, and checks each message against its test
 * case: format version 1, the case's suite, frame length (from its path) and data key count, and
 * exactly one data key of provider id `static-aws-xcompat`, all under the same key name.
 * @throws Error on any mismatch: a fixture that is not what SOURCE.md says fails every test.
 */
function load(): { vectors: Vector[]; key: VectorKey } {
  const manifest = JSON.parse(read("manifest.json").toString("utf8")) as Manifest;
  const aes = manifest.test_keys.AES["256"];
  if (aes.encoding !== "base64") throw new Error(`the AES-256 key is in ${aes.encoding}`);
  const material = new Uint8Array(Buffer.from(aes.key.join(""), "base64"));
  if (material.length !== 32) throw new Error(`the AES-256 key is ${material.length} bytes`);

  const names = new Set<string>();
  const vectors = manifest.test_cases.map((test): Vector => {
    const file = test.ciphertext.filename;
    const [, suite, , frame, id] = file.split("/");
    if (suite !== "0178" && suite !== "0378") throw new Error(`${file}: suite ${suite}`);
    if (test.algorithm !== suite || id === undefined || frame === undefined) throw new Error(`${file}: path`);
    const frameLength = Number(frame);
    const ciphertext = read(file);
    const layout = parseLayout(ciphertext);
    const checks: [string, boolean][] = [
      ["suite", layout.suiteId === Number.parseInt(suite, 16)],
      ["frame length", layout.frameLength === frameLength && layout.framed === frameLength > 0],
      ["data key count", layout.edks.length === test.master_keys.length],
      ["decryptable data keys", layout.edks.filter((edk) => edk.providerId === NAMESPACE).length === 1],
      [
        "other data keys",
        layout.edks.every((edk) => edk.providerId === NAMESPACE || edk.providerId === OTHER_NAMESPACE),
      ],
    ];
    const failed = checks.filter(([, ok]) => !ok).map(([what]) => what);
    if (failed.length > 0) throw new Error(`${file}: ${failed.join(", ")} not as the manifest says`);
    for (const edk of layout.edks) {
      if (edk.providerId === NAMESPACE) {
        names.add(edk.providerInfo.subarray(0, edk.providerInfo.length - INFO_AFTER_NAME).toString("utf8"));
      }
    }
    return {
      id,
      suite,
      frameLength,
      framed: layout.framed,
      edkCount: layout.edks.length,
      file,
      ciphertext,
      plaintext: read(test.plaintext.filename),
    };
  });
  const [name, ...others] = names;
  if (name === undefined || others.length > 0) throw new Error(`key names in the messages: ${[...names]}`);
  return { vectors, key: Object.freeze({ namespace: NAMESPACE, name, material }) };
}

const LOADED = load();

/** The key every vector's decryptable data key is wrapped under: `static-aws-xcompat` / `AES.256..`. */
export const VECTOR_KEY: VectorKey = LOADED.key;

/** The 80 vectors, in the manifest's order. */
export function loadVectors(): Vector[] {
  return [...LOADED.vectors];
}
