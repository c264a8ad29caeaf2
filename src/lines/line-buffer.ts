/**
 * The UTF-8 output of one batch, written in place: bytes copied from the inflated records and
 * strings encoded straight into it, so no batch-sized string is ever built. It grows by doubling;
 * {@link LineBuffer.take} hands out a view of a buffer of its own (it can move to another thread).
 */
export class LineBuffer {
  #bytes: Buffer;
  #length = 0;

  constructor(capacity: number) {
    this.#bytes = Buffer.allocUnsafeSlow(Math.max(capacity, 1024));
  }

  get length(): number {
    return this.#length;
  }

  /** Appends `source[start, end)`. */
  copy(source: Uint8Array, start: number, end: number): void {
    this.#reserve(end - start);
    this.#bytes.set(source.subarray(start, end), this.#length);
    this.#length += end - start;
  }

  /** Appends one byte. */
  byte(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#length] = value;
    this.#length += 1;
  }

  /** Appends `text` as UTF-8. */
  text(text: string): void {
    // At most 3 bytes a UTF-16 unit; a long text is measured rather than given 3 times its room.
    this.#reserve(text.length <= 4096 ? text.length * 3 : Buffer.byteLength(text, "utf8"));
    this.#length += this.#bytes.write(text, this.#length, "utf8");
  }

  /**
   * The bytes written, as a view of a buffer no one else holds (copied to one of their size when
   * more than half of it is unused). The buffer is not written again.
   */
  take(): Uint8Array {
    const bytes = this.#bytes;
    const length = this.#length;
    this.#bytes = EMPTY;
    this.#length = 0;
    if (length >= bytes.length / 2) return bytes.subarray(0, length);
    const fitted = Buffer.allocUnsafeSlow(length);
    fitted.set(bytes.subarray(0, length));
    return fitted;
  }

  #reserve(more: number): void {
    const needed = this.#length + more;
    if (needed <= this.#bytes.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(needed, this.#bytes.length * 2));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}

const EMPTY = Buffer.alloc(0);
