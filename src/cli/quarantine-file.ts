import { open } from "node:fs/promises";
import type { Writable } from "node:stream";

/**
 * Opens `cat --quarantine FILE` before anything is decrypted, so a path that cannot be written
 * fails at once (with the system's message) rather than as an unhandled stream error later.
 * @param onError called if a later write fails (a full disk).
 * @throws the system's error (ENOENT, EACCES, EISDIR) when the file cannot be created.
 */
export async function openQuarantineFile(path: string, onError: (error: Error) => void): Promise<Writable> {
  const handle = await open(path, "w");
  const stream = handle.createWriteStream();
  stream.on("error", onError);
  return stream;
}
