export interface DataKeyCacheOptions {
  /** Most entries kept; the least recently used one is evicted past this. */
  readonly maxEntries: number;
  /** An entry older than this is loaded again. */
  readonly ttlMs: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export interface DataKeyCacheStats {
  /** Loads started (for data keys: KMS `Decrypt` calls). */
  loads: number;
  /** Lookups answered by a cached or in-flight entry. */
  hits: number;
}

interface Entry<V> {
  readonly value: Promise<V>;
  readonly loadedAt: number;
}

/**
 * A bounded LRU of promises keyed by string. Concurrent lookups of a key that is still loading
 * share the one load, so a burst of records under the same data key makes one KMS call. A failed
 * load is forgotten at once, so the next lookup tries again.
 */
export class DataKeyCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: DataKeyCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError("maxEntries must be a positive whole number");
    }
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Returns the cached value for `key`, or starts `load` and caches its promise. */
  get(key: string, load: () => Promise<V>, stats?: DataKeyCacheStats): Promise<V> {
    const now = this.#now();
    const found = this.#entries.get(key);
    if (found !== undefined && now - found.loadedAt < this.#ttlMs) {
      // Re-insert to mark it most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, found);
      if (stats) stats.hits += 1;
      return found.value;
    }
    if (stats) stats.loads += 1;
    const value = load();
    this.#entries.delete(key);
    this.#entries.set(key, { value, loadedAt: now });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}
