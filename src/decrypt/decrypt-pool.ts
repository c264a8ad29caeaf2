import { isMainThread, type MessagePort, parentPort, Worker, workerData } from "node:worker_threads";
import { DasDecryptError } from "../config/errors.ts";
import type { LineOptions } from "../lines/format-lines.ts";
import {
  type BatchResult,
  decryptBatch,
  type KeyAnswer,
  type KeyLookup,
  type ObjectDecryption,
} from "./record-decryptor.ts";

const MARK = "dasDecryptWorker";

/**
 * True in a decryption worker thread. A worker runs this very module (from source, or the bundle
 * that holds it), so a bundle's entry point checks this and builds nothing else in a worker.
 */
export const runsAsDecryptWorker =
  !isMainThread && (workerData as Record<string, unknown> | null)?.[MARK] === true;

type ToWorker =
  | {
      readonly type: "batch";
      readonly task: number;
      readonly run: number;
      readonly buffer: ArrayBuffer;
      readonly lengths: readonly number[];
      readonly options: LineOptions;
    }
  | { readonly type: "keys"; readonly task: number; readonly answers: readonly KeyAnswer[] | null }
  | { readonly type: "forget"; readonly run: number };

type FromWorker =
  | { readonly type: "keys"; readonly task: number; readonly keys: readonly string[] }
  | { readonly type: "done"; readonly task: number; readonly result: BatchResult }
  | { readonly type: "failed"; readonly task: number; readonly name: string };

interface Slot {
  readonly worker: Worker;
  readonly tasks: Set<number>;
}

interface Task {
  readonly slot: Slot;
  readonly lookup: KeyLookup;
  readonly resolve: (result: BatchResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A fixed number of worker threads that decrypt and format batches of records. Data keys are not
 * fetched in a worker: a worker asks this thread, which answers through the one KMS-backed cache,
 * and keeps what it got for the rest of that object only. Workers are started on first use, hold
 * the process open only while they have work, and a worker that dies fails just its own batches.
 */
export class DecryptPool {
  static readonly #pools = new Map<number, DecryptPool>();

  /** The process-wide pool of `size` workers (one per container, shared by every handler in it). */
  static shared(size: number): DecryptPool {
    let pool = DecryptPool.#pools.get(size);
    if (pool === undefined) {
      pool = new DecryptPool(size);
      DecryptPool.#pools.set(size, pool);
    }
    return pool;
  }

  readonly #size: number;
  readonly #slots: Slot[] = [];
  readonly #tasks = new Map<number, Task>();
  #nextTask = 1;
  #nextRun = 1;

  private constructor(size: number) {
    this.#size = size;
  }

  /** Starts one object's run: its data keys come from `lookup`, its lines are formatted per `options`. */
  open(lookup: KeyLookup, options: LineOptions): ObjectDecryption {
    const run = this.#nextRun++;
    let closed = false;
    return {
      decrypt: (records) =>
        // A batch after close would make a worker keep this object's data keys for good.
        closed
          ? Promise.reject(new DasDecryptError("this object's decryption is closed"))
          : this.#submit(run, records, options, lookup),
      // Two per worker: one decrypting, one queued behind it, so no worker waits on this thread.
      parallelism: this.#size * 2,
      close: () => {
        closed = true;
        for (const slot of this.#slots) slot.worker.postMessage({ type: "forget", run } satisfies ToWorker);
      },
    };
  }

  /**
   * Stops every worker now; batches in flight fail with a retryable error. The pool starts new
   * workers on its next batch. For a process that is done decrypting, and for tests.
   */
  async close(): Promise<void> {
    const slots = [...this.#slots];
    for (const slot of slots) this.#lose(slot, new Error("the decryption pool was closed"));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  #submit(run: number, records: Buffer[], options: LineOptions, lookup: KeyLookup): Promise<BatchResult> {
    const slot = this.#leastBusy();
    // One buffer for the batch, moved (not copied) to the worker.
    const lengths = records.map((record) => record.length);
    const buffer = new ArrayBuffer(lengths.reduce((sum, length) => sum + length, 0));
    const view = new Uint8Array(buffer);
    let at = 0;
    for (const record of records) {
      view.set(record, at);
      at += record.length;
    }
    const task = this.#nextTask++;
    return new Promise<BatchResult>((resolve, reject) => {
      this.#tasks.set(task, { slot, lookup, resolve, reject });
      if (slot.tasks.size === 0) slot.worker.ref();
      slot.tasks.add(task);
      const message: ToWorker = { type: "batch", task, run, buffer, lengths, options };
      slot.worker.postMessage(message, [buffer]);
    });
  }

  #leastBusy(): Slot {
    if (this.#slots.length < this.#size) return this.#spawn();
    let best = this.#slots[0] as Slot;
    for (const slot of this.#slots) if (slot.tasks.size < best.tasks.size) best = slot;
    return best;
  }

  #spawn(): Slot {
    const { script, eval: evaluate } = workerScript();
    const worker = new Worker(script, { eval: evaluate, workerData: { [MARK]: true } });
    worker.unref();
    const slot: Slot = { worker, tasks: new Set() };
    this.#slots.push(slot);
    worker.on("message", (message: FromWorker) => this.#onMessage(slot, message));
    worker.on("error", (error) => this.#lose(slot, error));
    worker.on("exit", (code) => this.#lose(slot, new Error(`decryption worker exited with code ${code}`)));
    return slot;
  }

  #onMessage(slot: Slot, message: FromWorker): void {
    const task = this.#tasks.get(message.task);
    if (message.type === "keys") {
      if (task === undefined) {
        slot.worker.postMessage({ type: "keys", task: message.task, answers: null } satisfies ToWorker);
        return;
      }
      task.lookup(message.keys).then(
        (answers) =>
          slot.worker.postMessage({ type: "keys", task: message.task, answers } satisfies ToWorker),
        (error: unknown) => {
          // The object fails; the worker is told to drop the batch.
          this.#settle(message.task)?.reject(error);
          slot.worker.postMessage({ type: "keys", task: message.task, answers: null } satisfies ToWorker);
        },
      );
      return;
    }
    if (message.type === "done") this.#settle(message.task)?.resolve(message.result);
    else {
      const error = new DasDecryptError(`a decryption worker failed on a batch (${message.name})`, {
        retryable: true,
      });
      this.#settle(message.task)?.reject(error);
    }
  }

  #settle(id: number): Task | undefined {
    const task = this.#tasks.get(id);
    if (task === undefined) return undefined;
    this.#tasks.delete(id);
    task.slot.tasks.delete(id);
    if (task.slot.tasks.size === 0) task.slot.worker.unref();
    return task;
  }

  /** A worker died: its batches fail (the object is retried), and a new worker takes its place. */
  #lose(slot: Slot, cause: unknown): void {
    const index = this.#slots.indexOf(slot);
    if (index === -1) return;
    this.#slots.splice(index, 1);
    for (const id of [...slot.tasks]) {
      const error = new DasDecryptError("a decryption worker stopped", { cause, retryable: true });
      this.#settle(id)?.reject(error);
    }
    void slot.worker.terminate();
  }
}

const SELF = import.meta.url;

/**
 * What a worker runs: this module. Run from TypeScript source (tests, `npm start`, the benchmark),
 * the worker first registers the same TypeScript loader, which Node 20 does not pass on to it.
 */
function workerScript(): { script: string | URL; eval: boolean } {
  if (!SELF.endsWith(".ts")) return { script: new URL(SELF), eval: false };
  const loader = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const script = `import(${loader}).then((tsx) => { tsx.register(); return import(${JSON.stringify(SELF)}); });`;
  return { script, eval: true };
}

/** The worker's side: decrypts the batches it is sent, asking the main thread for data keys. */
function serveDecryptWorker(port: MessagePort): void {
  const runs = new Map<number, Map<string, Uint8Array>>();
  const waiting = new Map<
    number,
    { resolve: (a: readonly KeyAnswer[]) => void; reject: (e: Error) => void }
  >();

  const decrypt = async (batch: Extract<ToWorker, { type: "batch" }>): Promise<void> => {
    let known = runs.get(batch.run);
    if (known === undefined) {
      known = new Map();
      runs.set(batch.run, known);
    }
    const records: Buffer[] = [];
    let at = 0;
    for (const length of batch.lengths) {
      records.push(Buffer.from(batch.buffer, at, length));
      at += length;
    }
    const lookup: KeyLookup = (keys) =>
      new Promise((resolve, reject) => {
        waiting.set(batch.task, { resolve, reject });
        port.postMessage({ type: "keys", task: batch.task, keys } satisfies FromWorker);
      });
    try {
      const result = await decryptBatch(records, batch.options, lookup, known);
      port.postMessage({ type: "done", task: batch.task, result } satisfies FromWorker, [
        result.lines.buffer as ArrayBuffer,
      ]);
    } catch (error) {
      // Only the error's name crosses: a message could quote record content.
      const name = error instanceof Error ? error.name : "Error";
      port.postMessage({ type: "failed", task: batch.task, name } satisfies FromWorker);
    }
  };

  port.on("message", (message: ToWorker) => {
    if (message.type === "batch") void decrypt(message);
    else if (message.type === "forget") runs.delete(message.run);
    else {
      const pending = waiting.get(message.task);
      waiting.delete(message.task);
      if (message.answers === null) pending?.reject(new Error("the object failed; batch dropped"));
      else pending?.resolve(message.answers);
    }
  });
}

if (runsAsDecryptWorker && parentPort !== null) serveDecryptWorker(parentPort);
