// The bind-value hash key against moto's KMS, an implementation we did not write: GenerateMac
// under an HMAC_256 key is deterministic and 32 bytes, so every container of a deployment derives
// the same key; another key derives another; a key of another usage is refused, by name.
import { CreateKeyCommand, GenerateMacCommand, KMSClient } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, expect, test } from "vitest";
import { AwsCallError } from "../../src/config/errors.ts";
import { DERIVATION_MESSAGE, paramHashKeySource } from "../../src/policy/param-hash-key.ts";
import { type MotoServer, startMotoServer } from "../support/moto-server.ts";

let moto: MotoServer;
let kms: KMSClient;

beforeAll(async () => {
  moto = await startMotoServer();
  kms = new KMSClient({
    endpoint: moto.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
}, 60_000);
afterAll(async () => {
  kms?.destroy();
  await moto?.stop();
});

async function createKey(spec: "HMAC_256" | "SYMMETRIC_DEFAULT"): Promise<string> {
  const { KeyMetadata } = await kms.send(
    new CreateKeyCommand({
      KeySpec: spec,
      KeyUsage: spec === "HMAC_256" ? "GENERATE_VERIFY_MAC" : "ENCRYPT_DECRYPT",
    }),
  );
  return KeyMetadata?.Arn as string;
}

test("two containers derive the same 32-byte key: KMS's MAC of the derivation message; another HMAC key, another", async () => {
  const keyArn = await createKey("HMAC_256");
  const first = await paramHashKeySource(kms, keyArn)();
  const second = await paramHashKeySource(kms, keyArn)();
  expect(first).toHaveLength(32);
  expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
  const { Mac } = await kms.send(
    new GenerateMacCommand({ KeyId: keyArn, Message: DERIVATION_MESSAGE, MacAlgorithm: "HMAC_SHA_256" }),
  );
  expect(Buffer.from(Mac as Uint8Array).equals(Buffer.from(first))).toBe(true);
  const other = await paramHashKeySource(kms, await createKey("HMAC_256"))();
  expect(Buffer.from(other).equals(Buffer.from(first))).toBe(false);
});

test("a key that is not an HMAC key is refused as a kms:GenerateMac failure, and the next call asks again", async () => {
  const source = paramHashKeySource(kms, await createKey("SYMMETRIC_DEFAULT"));
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const error = await source().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(AwsCallError);
    expect((error as AwsCallError).operation).toBe("kms:GenerateMac");
  }
});
