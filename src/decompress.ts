import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * Passes bytes through, gunzipping them first when the stream starts with the GZIP magic bytes
 * (Firehose may compress whole objects; the key's name is not trusted). Concatenated GZIP members
 * are read as one stream.
 */
export async function* gunzipIfCompressed(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 2) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headLength += next.value.length;
  }
  const first = Buffer.concat(head);
  const rest = async function* () {
    if (first.length > 0) yield first;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  };
  if (first[0] !== GZIP_MAGIC_0 || first[1] !== GZIP_MAGIC_1) {
    yield* rest();
    return;
  }
  const compressed = Readable.from(rest(), { objectMode: false });
  const gunzip = createGunzip();
  compressed.on("error", (error) => gunzip.destroy(error));
  compressed.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } finally {
    compressed.destroy();
    gunzip.destroy();
  }
}
