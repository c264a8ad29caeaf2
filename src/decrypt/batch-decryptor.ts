import type { LineOptions } from "../lines/format-lines.ts";
import { KMS_REFUSED, REFUSALS_BEFORE_CONFIG_ERROR } from "../output/record-ledger.ts";
import type { DataKeyCacheStats } from "./data-key-cache.ts";
import type { DataKeySource } from "./data-keys.ts";
import { DecryptPool } from "./decrypt-pool.ts";
import {
  decryptBatch,
  type KeyAnswer,
  type KeyLookup,
  type ObjectDecryption,
  recordFailureOf,
} from "./record-decryptor.ts";
import type { ResourceId } from "./resource-id.ts";

export interface BatchDecryptor {
  /** Starts one object: its data keys are asked for under `resource`, KMS calls counted in `stats`. */
  open(resource: ResourceId, stats: DataKeyCacheStats, options: LineOptions): ObjectDecryption;
}

/**
 * Decrypts batches in this thread (`workers` 0), or in a pool of `workers` worker threads so that
 * decryption uses every vCPU the function has. Either way KMS is called from this thread only,
 * through the one shared data key cache, so KMS calls stay one per distinct data key.
 */
export function buildBatchDecryptor(keys: DataKeySource, workers: number): BatchDecryptor {
  const pool = workers > 0 ? DecryptPool.shared(workers) : undefined;
  return {
    open(resource, stats, options) {
      const lookup = keyLookup(keys, resource, stats);
      if (pool !== undefined) return pool.open(lookup, options);
      const known = new Map<string, Uint8Array>();
      return {
        decrypt: (records) => decryptBatch(records, options, lookup, known),
        // Two: the next batch's KMS call can be under way while this one decrypts.
        parallelism: 2,
        close: () => known.clear(),
      };
    },
  };
}

/**
 * Data keys through the shared cache; a KMS refusal becomes the records' quarantine reason. Until
 * KMS has accepted one of the object's data keys, keys are asked for one at a time, and after
 * {@link REFUSALS_BEFORE_CONFIG_ERROR} refusals no more are asked: a wrong resource id is refused
 * for every key, and the ledger fails the object on those refusals (as many batches in flight would
 * otherwise ask about every key they hold).
 */
function keyLookup(keys: DataKeySource, resource: ResourceId, stats: DataKeyCacheStats): KeyLookup {
  let accepted = 0;
  let refused = 0;
  let probation: Promise<unknown> = Promise.resolve();
  const ask = (key: string): Promise<KeyAnswer> =>
    keys.get(key, resource, stats).then(
      (dataKey): KeyAnswer => {
        accepted += 1;
        return dataKey.material;
      },
      (error: unknown): KeyAnswer => {
        const failure = recordFailureOf(error);
        if (failure.reason === KMS_REFUSED) refused += 1;
        return failure;
      },
    );
  // Each turn holds the next one only while its key is still on probation; once a key has been
  // accepted, turns already queued are all asked at once.
  const askInTurn = (key: string): Promise<KeyAnswer> => {
    if (accepted > 0) return ask(key);
    const turn = probation.then(() => {
      if (accepted > 0) return { answer: ask(key), hold: undefined };
      if (refused >= REFUSALS_BEFORE_CONFIG_ERROR)
        return { answer: Promise.resolve(NOT_ASKED), hold: undefined };
      const answer = ask(key);
      return { answer, hold: answer };
    });
    probation = turn.then(({ hold }) => hold).catch(() => undefined);
    return turn.then(({ answer }) => answer);
  };
  return (asked) => Promise.all(asked.map(askInTurn));
}

const NOT_ASKED: KeyAnswer = {
  reason: KMS_REFUSED,
  message: `not sent to KMS: it refused the first ${REFUSALS_BEFORE_CONFIG_ERROR} data keys of this object and accepted none`,
};
