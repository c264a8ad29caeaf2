import { RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from "@aws-crypto/raw-aes-keyring-node";

/** RDS wraps every record's message under this raw AES key identity. */
export const DAS_KEY_NAMESPACE = "BC";
export const DAS_KEY_NAME = "DataKey";

/**
 * Wraps 32 plaintext bytes as the raw AES keyring RDS encrypts each record for. From the keyring's
 * own package, not `@aws-crypto/client-node`: that one also loads the KMS and DynamoDB clients of
 * its other keyrings, which every decryption worker would then hold.
 */
export function keyringFor(material: Uint8Array): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyNamespace: DAS_KEY_NAMESPACE,
    keyName: DAS_KEY_NAME,
    // The SDK zeroes the array it is given once it has taken the key in: hand it its own copy.
    unencryptedMasterKey: new Uint8Array(material),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
}
