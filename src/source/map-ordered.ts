/**
 * Maps an async stream with up to `concurrency` calls of `fn` in flight, yielding results in input
 * order. Memory is bounded by `concurrency` items. A rejected call surfaces when its turn comes.
 */
export async function* mapOrdered<T, R>(
  source: AsyncIterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  try {
    for await (const item of source) {
      const result = fn(item);
      // Observed here so a rejection waiting in the queue is not reported as unhandled.
      result.catch(() => undefined);
      pending.push(result);
      if (pending.length >= concurrency) yield await (pending.shift() as Promise<R>);
    }
    while (pending.length > 0) yield await (pending.shift() as Promise<R>);
  } finally {
    pending.length = 0;
  }
}
