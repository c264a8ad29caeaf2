import { RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from "@aws-crypto/raw-aes-keyring-node";

/** The identity of a raw AES wrapping key in a message: its key namespace (provider id) and name. */
export interface KeyIdentity {
  readonly namespace: string;
  readonly name: string;
}

/** RDS wraps every record's message under this raw AES key identity. */
export const DAS_KEY: KeyIdentity = Object.freeze({ namespace: "BC", name: "DataKey" });

/**
 * Wraps 32 plaintext bytes as the raw AES keyring RDS encrypts each record for. From the keyring's
 * own package, not `@aws-crypto/client-node`: that one also loads the KMS and DynamoDB clients of
 * its other keyrings, which every decryption worker would then hold.
 */
export function keyringFor(material: Uint8Array, identity: KeyIdentity = DAS_KEY): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyNamespace: identity.namespace,
    keyName: identity.name,
    // The SDK zeroes the array it is given once it has taken the key in: hand it its own copy.
    unencryptedMasterKey: new Uint8Array(material),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    // The context the data key's AAD is rebuilt from is sorted by bytes, as the specification and
    // the message parser say (the keyring's default, locale order, differs: "Z" < "a" by bytes).
    utf8Sorting: true,
  });
}
