import { runsAsDecryptWorker } from "../decrypt/decrypt-pool.ts";
import { EXIT } from "./io.ts";
import { runCli } from "./main.ts";

// A decryption worker thread loads this same bundle only to serve the pool: no command runs there.
if (!runsAsDecryptWorker) await main();

async function main(): Promise<void> {
  // The SDK warns on every command that a future version will need Node 22; this command supports
  // Node 20 and says nothing the user can act on there. Set the variable to "false" to see it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // Ctrl-C stops sending new work (the command says so); Ctrl-C again quits at once.
  // One listener for both: between removing one and adding another, a Ctrl-C would kill the process.
  const interrupt = new AbortController();
  process.on("SIGINT", () => {
    if (!interrupt.signal.aborted) return interrupt.abort();
    // Leave the terminal as it was: cursor shown, on a line of its own.
    if (process.stderr.isTTY) process.stderr.write("\x1b[?25h\n");
    process.exit(EXIT.interrupted);
  });

  const code = await runCli(process.argv.slice(2), {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: interrupt.signal,
  });
  // Interrupted: what was worth finishing has finished; a call still waiting (cat's KMS call) is dropped.
  if (code === EXIT.interrupted) process.exit(code);
  process.exitCode = code;
}
