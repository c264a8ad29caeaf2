import type { Piece } from "../output/bad-piece-entry.ts";
import type { BufferPool } from "./buffer-pool.ts";

/** Pieces in input order, their bytes copied into one pooled buffer (`undefined` when none were). */
export interface Batch {
  readonly pieces: Piece[];
  readonly buffer: Buffer | undefined;
}

/**
 * Groups pieces, in order, into batches of at most `maxPieces` pieces whose bytes fit in one buffer
 * of `pool`, so decryption pays its per-call costs (a thread hop, a KMS lookup) once per batch,
 * not per record. Each piece's bytes are copied into the batch's buffer, which the consumer gives
 * back to `pool` once it is done with the batch: the input's own chunks then die at once, and
 * batches, which wait for their turn, allocate nothing. A piece larger than a buffer keeps its bytes.
 */
export async function* batchPieces(
  pieces: AsyncIterable<Piece>,
  maxPieces: number,
  pool: BufferPool,
): AsyncGenerator<Batch> {
  let batch: Piece[] = [];
  let buffer: Buffer | undefined;
  let used = 0;
  for await (const piece of pieces) {
    let kept = piece;
    if (piece.kind !== "unreadable" && piece.bytes.length <= pool.size) {
      const length = piece.bytes.length;
      if (used + length > pool.size) {
        yield { pieces: batch, buffer };
        batch = [];
        buffer = undefined;
        used = 0;
      }
      buffer ??= pool.take();
      piece.bytes.copy(buffer, used);
      kept = { ...piece, bytes: buffer.subarray(used, used + length) };
      used += length;
    }
    batch.push(kept);
    if (batch.length >= maxPieces) {
      yield { pieces: batch, buffer };
      batch = [];
      buffer = undefined;
      used = 0;
    }
  }
  if (batch.length > 0) yield { pieces: batch, buffer };
}
