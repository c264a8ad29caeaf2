import {
  AccountingError,
  type ErrorLocation,
  ResourceIdMismatchError,
  TooManyBadRecordsError,
} from "../config/errors.ts";
import { MESSAGE_REASONS } from "../decrypt/esdk-message.ts";
import type { ResourceId } from "../decrypt/resource-id.ts";

/**
 * KMS refusals, with no data key of the object accepted yet, after which the object stops at once:
 * a wrong resource id fails every record, and asking KMS about each of 100,000 records would only
 * cost time and calls before saying the same thing.
 */
export const REFUSALS_BEFORE_CONFIG_ERROR = 3;

/** Reasons that prove KMS accepted the record's data key (the failure came after it). */
const AFTER_KMS = new Set([
  ...Object.values(MESSAGE_REASONS),
  "message-authentication-failed",
  "gunzip-failed",
  "inner-too-large",
  "not-das-record",
]);
/** The reason a record is quarantined with when KMS refuses its data key. */
export const KMS_REFUSED = "kms-invalid-ciphertext";

export interface LedgerOptions {
  /** Bad records one object may quarantine; one more fails the object. */
  readonly maxQuarantined: number;
  /** The stream's resource id as configured for this object. */
  readonly resource: ResourceId;
  /** The variable that chose it, named in the configuration error. */
  readonly resourceVariable: string;
  readonly location: ErrorLocation;
}

/**
 * Counts every piece of one object as it goes in, and how it came out (decrypted or quarantined,
 * with its reason), and applies the bad-record policy in input order, so outcomes do not depend on
 * which concurrent decryption finished first.
 */
export class RecordLedger {
  recordsIn = 0;
  quarantined = 0;
  readonly reasons: Record<string, number> = {};
  #keysAccepted = 0;
  #keysRefused = 0;
  readonly #options: LedgerOptions;

  constructor(options: LedgerOptions) {
    this.#options = options;
  }

  /** Passes pieces through, counting each one as it leaves the splitter. */
  async *countIn<T>(pieces: AsyncIterable<T>): AsyncGenerator<T> {
    for await (const piece of pieces) {
      this.recordsIn += 1;
      yield piece;
    }
  }

  /** A record decrypted: its data key was accepted. */
  noteDecrypted(): void {
    this.#keysAccepted += 1;
  }

  /**
   * A piece goes to quarantine.
   * @throws ResourceIdMismatchError after {@link REFUSALS_BEFORE_CONFIG_ERROR} KMS refusals with no
   *   data key accepted; TooManyBadRecordsError past `maxQuarantined`.
   */
  noteQuarantined(reason: string): void {
    this.quarantined += 1;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    if (AFTER_KMS.has(reason)) this.#keysAccepted += 1;
    if (reason === KMS_REFUSED) {
      this.#keysRefused += 1;
      if (this.#keysAccepted === 0 && this.#keysRefused >= REFUSALS_BEFORE_CONFIG_ERROR)
        throw this.#mismatch();
    }
    if (this.quarantined > this.#options.maxQuarantined) {
      throw new TooManyBadRecordsError(this.quarantined, { ...this.reasons }, this.#options.location);
    }
  }

  /**
   * The last check before the output is committed: every piece in came out exactly once, and KMS
   * did not refuse every data key it was asked about.
   * @throws ResourceIdMismatchError, AccountingError
   */
  close(decrypted: number): void {
    if (this.#keysRefused > 0 && this.#keysAccepted === 0) throw this.#mismatch();
    if (this.recordsIn !== decrypted + this.quarantined) {
      throw new AccountingError(this.recordsIn, decrypted, this.quarantined, this.#options.location);
    }
  }

  #mismatch(): ResourceIdMismatchError {
    const { resource, resourceVariable, location } = this.#options;
    return new ResourceIdMismatchError(
      resourceVariable,
      `KMS refused the data key of all ${this.#keysRefused} records it was asked about under ` +
        `${resource.contextKey}=${resource.id} and accepted none. Set it to the resource id of the ` +
        "stream that wrote this object (Aurora: the DbClusterResourceId, cluster-…; RDS for Oracle / " +
        "SQL Server: the DbiResourceId, db-…). Nothing was written.",
      location,
    );
  }
}
