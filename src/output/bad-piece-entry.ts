import type { GzipFailure } from "../source/decompress.ts";
import type { RawPiece } from "../source/split-records.ts";
import type { QuarantineEntry } from "./quarantine.ts";

/** A piece of the object on its way through the pipeline, or where the object's GZIP stream broke. */
export type Piece =
  | RawPiece
  | { readonly kind: "unreadable"; readonly index: number; readonly failure: GzipFailure };

/**
 * The quarantine entry of a piece that never was a decryptable record: bytes between records,
 * a record cut off by the object's end, one over `MAX_RECORD_BYTES` (not kept, located by offset
 * and length), or the place where the object's GZIP stream broke.
 */
export function badPieceEntry(
  piece: Exclude<Piece, { kind: "record" }>,
  maxRecordBytes: number,
): QuarantineEntry {
  if (piece.kind === "unreadable") {
    const { reason, decompressedBytes } = piece.failure;
    const what = reason === "gzip-truncated" ? "ends early (cut off)" : "is corrupt";
    return {
      recordIndex: piece.index,
      byteOffset: decompressedBytes,
      length: 0,
      reason,
      message: `the object's GZIP stream ${what} here: nothing after this offset could be read`,
      raw: Buffer.alloc(0),
    };
  }
  const message = {
    garbage: `${piece.length} bytes that are not a JSON object`,
    truncated: "the object ends inside this record (truncated)",
    "too-large": `the record is ${piece.length} bytes, over MAX_RECORD_BYTES (${maxRecordBytes}); its bytes are not kept`,
  }[piece.reason];
  const { index, offset, reason, length, bytes } = piece;
  return { recordIndex: index, byteOffset: offset, length, reason, message, raw: bytes };
}

/**
 * Passes the splitter's pieces on and, when the object's GZIP stream broke, adds one more piece for
 * the place where it did, so the break is quarantined and counted like any bad piece.
 */
export async function* withGzipFailure(
  pieces: AsyncIterable<RawPiece>,
  failure: () => GzipFailure | undefined,
): AsyncGenerator<Piece> {
  let next = 0;
  for await (const piece of pieces) {
    next = piece.index + 1;
    yield piece;
  }
  const broken = failure();
  if (broken !== undefined) yield { kind: "unreadable", index: next, failure: broken };
}
