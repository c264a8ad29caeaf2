import { expect } from "vitest";
import type { EncryptedRecord, InnerRecord } from "../../src/local/fixtures.ts";

/** One piece of a test object: a good record, or bad bytes with what the quarantine must say. */
export type Part =
  | { readonly good: EncryptedRecord }
  | {
      readonly bad: Buffer;
      readonly reason: string;
      readonly message: RegExp;
      /** What `raw` keeps: the bytes (default), the bytes and the separator after them (garbage), nothing. */
      readonly raw?: "bytes" | "bytes+separator" | "none";
    };

/** A quarantine line as the handler must write it. */
export interface QuarantineLine {
  recordIndex: number;
  byteOffset: number;
  length: number;
  reason: string;
  message: unknown;
  rawEncoding: "utf8" | "base64";
  raw: string;
}

export interface AssembledObject {
  readonly body: Buffer;
  readonly good: InnerRecord[];
  readonly quarantine: QuarantineLine[];
  readonly pieces: number;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The line the quarantine object must hold for these raw bytes (computed here, independently). */
export function expectedLine(
  recordIndex: number,
  byteOffset: number,
  length: number,
  reason: string,
  message: RegExp,
  raw: Buffer,
): QuarantineLine {
  let text: string | undefined;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    text = undefined;
  }
  return {
    recordIndex,
    byteOffset,
    length,
    reason,
    message: expect.stringMatching(message),
    rawEncoding: text === undefined ? "base64" : "utf8",
    raw: text ?? raw.toString("base64"),
  };
}

/**
 * Lays parts out as Firehose would (joined by `separator`), keeping the books as it goes: each
 * part's index and byte offset, the good records in order, the exact quarantine lines.
 */
export function assemble(parts: readonly Part[], separator = ""): AssembledObject {
  const sep = Buffer.from(separator);
  const chunks: Buffer[] = [];
  const good: InnerRecord[] = [];
  const quarantine: QuarantineLine[] = [];
  let offset = 0;
  parts.forEach((part, index) => {
    const last = index === parts.length - 1;
    const bytes = "good" in part ? part.good.bytes : part.bad;
    chunks.push(bytes);
    if (!last) chunks.push(sep);
    if ("good" in part) good.push(part.good.inner);
    else {
      const kept = part.raw ?? "bytes";
      const raw =
        kept === "none"
          ? Buffer.alloc(0)
          : kept === "bytes+separator" && !last
            ? Buffer.concat([bytes, sep])
            : bytes;
      const length = kept === "none" ? bytes.length : raw.length;
      quarantine.push(expectedLine(index, offset, length, part.reason, part.message, raw));
    }
    offset += bytes.length + (last ? 0 : sep.length);
  });
  return { body: Buffer.concat(chunks), good, quarantine, pieces: parts.length };
}
