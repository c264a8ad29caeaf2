/**
 * Buffers of one fixed size, used again from batch to batch and from object to object. A buffer
 * that lives through a few garbage collections (an upload part being filled, a batch waiting for
 * its turn) is freed only by a full collection, which V8 starts late for memory outside its heap:
 * allocating such buffers afresh makes the process grow with the size of the object.
 */
export class BufferPool {
  readonly size: number;
  readonly #free: Buffer[] = [];
  readonly #keep: number;
  #created = 0;

  /** Keeps up to `keep` free buffers; more can be taken, and the extra ones are dropped when given back. */
  constructor(size: number, keep: number) {
    this.size = size;
    this.#keep = keep;
  }

  /** A buffer of `size` bytes, free to overwrite: its old bytes are never to be read. */
  take(): Buffer {
    const free = this.#free.pop();
    if (free !== undefined) return free;
    this.#created += 1;
    return Buffer.allocUnsafeSlow(this.size);
  }

  /** Gives back a buffer nothing reads any more. */
  give(buffer: Buffer): void {
    // Handing out one buffer twice would mix two users' bytes: fail loudly instead.
    if (this.#free.includes(buffer)) throw new Error("a pooled buffer was given back twice");
    if (this.#free.length < this.#keep) this.#free.push(buffer);
  }

  /** Buffers allocated so far. */
  get created(): number {
    return this.#created;
  }
}
