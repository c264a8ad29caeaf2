import { runsAsDecryptWorker } from "../decrypt-pool.ts";
import { runCli } from "./main.ts";

// A decryption worker thread loads this same bundle only to serve the pool: no command runs there.
if (!runsAsDecryptWorker) await main();

async function main(): Promise<void> {
  // Ctrl-C stops sending new work; what is in flight finishes and the resume point is printed.
  const interrupt = new AbortController();
  process.once("SIGINT", () => {
    process.stderr.write("das-decrypt: stopping after the work in flight (Ctrl-C again to quit now)\n");
    interrupt.abort();
    process.once("SIGINT", () => process.exit(130));
  });

  process.exitCode = await runCli(process.argv.slice(2), {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: interrupt.signal,
  });
}
