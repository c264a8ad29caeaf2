import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { type CliIo, runCli } from "../../src/cli/main.ts";

export const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "src", "cli", "bin.ts");

/** What a run of the command printed, and how it ended. */
export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with its own stdout and stderr; `tty` makes stderr a terminal. */
export async function runInProcess(
  args: string[],
  env: Record<string, string | undefined>,
  options: { signal?: AbortSignal; tty?: boolean } = {},
): Promise<Ran> {
  const stdout = new PassThrough();
  const stderr: PassThrough & { isTTY?: boolean } = new PassThrough();
  if (options.tty === true) stderr.isTTY = true;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const io: CliIo = {
    env,
    stdout,
    stderr,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const code = await runCli(args, io);
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** A spawned `das-decrypt`, with what it printed so far. */
export interface Child {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream;
  /** Resolves when stderr has printed something matching `pattern`; rejects if it ends first. */
  stderrMatches(pattern: RegExp): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when it ends (killed after `timeoutMs`, 15 s by default, if it has not). */
  ended(): Promise<Ran>;
}

/**
 * Starts the command as its own process (`node --import tsx src/cli/bin.ts`), with exactly `env`
 * as its environment, so exit codes, signals, pipes and the two output streams are the real ones.
 * @param readStdout false leaves stdout to the caller (to close it early, as `| head` does).
 */
export function spawnCli(
  args: string[],
  env: Record<string, string | undefined>,
  options: { readStdout?: boolean; timeoutMs?: number } = {},
): Child {
  const child = spawn(process.execPath, ["--import", "tsx", BIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiting: { pattern: RegExp; resolve: () => void; reject: (error: Error) => void }[] = [];
  if (options.readStdout !== false) child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
    for (const wait of waiting.filter((w) => w.pattern.test(stderr))) wait.resolve();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 15_000);
  const exit = once(child, "close").then(([code]) => {
    clearTimeout(timer);
    for (const wait of waiting)
      wait.reject(new Error(`ended (${code}) before printing ${wait.pattern}: ${stderr}`));
    return { code: code as number | null, stdout, stderr };
  });
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderrMatches: (pattern) =>
      pattern.test(stderr)
        ? Promise.resolve()
        : new Promise((resolve, reject) => waiting.push({ pattern, resolve, reject })),
    kill: (signal) => child.kill(signal),
    ended: () => exit,
  };
}

/** Runs the command as a process to its end. */
export function runProcess(args: string[], env: Record<string, string | undefined>): Promise<Ran> {
  return spawnCli(args, env).ended();
}

/** A request a fake service received. */
export interface Received {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** A loopback HTTP server standing in for an AWS endpoint, answering each request with `answer`. */
export interface FakeService {
  readonly endpoint: string;
  readonly received: Received[];
  stop(): Promise<void>;
}

/**
 * Starts a fake AWS endpoint on 127.0.0.1 (port 0). `answer` may wait before it answers (to hold
 * requests in flight); every request is recorded first.
 */
export async function startFakeService(
  answer: (request: Received, response: ServerResponse) => void | Promise<void>,
): Promise<FakeService> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const got = {
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      };
      received.push(got);
      void Promise.resolve(answer(got, response)).catch(() => response.destroy());
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** What KMS answers (JSON 1.1 protocol) when the caller's policy does not allow kms:Decrypt. */
export function kmsAccessDenied(message: string) {
  return (_request: Received, response: ServerResponse) => {
    response.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "req-1" });
    response.end(JSON.stringify({ __type: "AccessDeniedException", message }));
  };
}

/** What Lambda answers (REST JSON protocol) to an Invoke the caller may not make. */
export function lambdaAccessDenied(message: string) {
  return (_request: Received, response: ServerResponse) => {
    response.writeHead(403, {
      "content-type": "application/json",
      "x-amzn-errortype": "AccessDeniedException",
      "x-amzn-requestid": "req-1",
    });
    response.end(JSON.stringify({ Message: message }));
  };
}

/** Lambda's answer to an accepted asynchronous invoke. */
export function lambdaAccepted(_request: Received, response: ServerResponse): void {
  response.writeHead(202, { "content-type": "application/json" });
  response.end();
}
