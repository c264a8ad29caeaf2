/**
 * Runs before every test file (vitest `setupFiles`): whatever the file's code prints to the console,
 * stdout or stderr, and whatever goes through a CapturingLog, is scanned after the file for the
 * plaintext the fixture generator can produce (SQL text, error messages) and for the shape of DAS
 * ciphertext. So no test anywhere in the suite can pass while a secret reaches a log.
 */
import { afterAll, expect } from "vitest";
import { buildEvents, ENGINES, seededRandom } from "../../src/local/das-events.ts";
import { capturedLogs } from "./harness.ts";

/** Every string value of at least 16 characters the generator puts in events, from many draws. */
function plaintextMarkers(): Set<string> {
  const markers = new Set<string>();
  const random = seededRandom(7);
  for (const engine of ENGINES) {
    for (let sequence = 0; sequence < 400; sequence += 1) {
      for (const event of buildEvents(engine, 2, { random, timeMs: 0, sequence })) {
        for (const field of ["commandText", "errorMessage"]) {
          const value = event[field];
          if (typeof value === "string" && value.length >= 16) markers.add(value);
        }
      }
    }
  }
  return markers;
}

/** Base64 of an Encryption SDK message (version 1, suites 0x0178 / 0x0378) or a KMS blob, long enough to be one. */
const CIPHERTEXT = /(AYABe|AYADe|AQIDA)[A-Za-z0-9+/]{40}/;

const printed: string[] = [];
const keep = (chunk: unknown) => {
  printed.push(
    typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : String(chunk),
  );
};
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    keep(chunk);
    return write(chunk, ...rest);
  }) as typeof stream.write;
}
for (const method of ["log", "info", "warn", "error", "debug"] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    keep(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
    original(...args);
  };
}

afterAll(() => {
  const text = [...printed, ...[...capturedLogs].map((log) => log.text())].join("\n");
  // Reported by their first characters only: the failure message must not repeat the leak.
  const leaks = [...plaintextMarkers()]
    .filter((marker) => text.includes(marker))
    .map((m) => `${m.slice(0, 12)}…`);
  const ciphertext = CIPHERTEXT.exec(text)?.[0];
  expect({ leaks, ciphertext: ciphertext === undefined ? "none" : `${ciphertext.slice(0, 12)}…` }).toEqual({
    leaks: [],
    ciphertext: "none",
  });
});
