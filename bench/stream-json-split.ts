import { Readable } from "node:stream";
import chain from "stream-chain";
import { parser } from "stream-json";
import { streamValues } from "stream-json/streamers/stream-values.js";

/**
 * The same job as splitRecords done with stream-json (parser with jsonStreaming + streamValues):
 * yields one parsed value per record. Only the benchmark uses it, to compare the two.
 */
export async function* splitWithStreamJson(input: AsyncIterable<Buffer>): AsyncGenerator<unknown> {
  const pipeline = chain([Readable.from(input), parser({ jsonStreaming: true }), streamValues()]);
  for await (const item of pipeline) yield (item as { value: unknown }).value;
}
