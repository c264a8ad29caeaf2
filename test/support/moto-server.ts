import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

/** What a machine without moto is told to run. */
export const MOTO_INSTALL = "pip install 'moto[server]>=5.2'";

/** moto's S3 (versioning, multipart, tagging, SSE headers): a server implementation we did not write. */
export interface MotoServer {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_S3` or an S3Client's `endpoint`. */
  readonly endpoint: string;
  /** Milliseconds from spawning the process until it answered HTTP. */
  readonly startupMs: number;
  /** Stops the process and waits for it to exit. */
  stop(): Promise<void>;
}

export interface MotoServerOptions {
  /** How long moto may take to answer (default 30 s: about 1 s idle, a few seconds on a busy 2-core box). */
  readonly startTimeoutMs?: number;
}

const STOP_GRACE_MS = 5_000;

/**
 * Starts `python3 -m moto.server` on 127.0.0.1. The port is moto's to pick (`-p 0`): it announces
 * the bound address on stderr, so no port is chosen first and lost to another process meanwhile.
 * Resolves once the server answers HTTP.
 * @throws Error naming {@link MOTO_INSTALL} when python3 cannot import moto 5.2 or later with its
 *   server; Error with moto's last output when it exits or stays silent past the timeout.
 */
export async function startMotoServer(options: MotoServerOptions = {}): Promise<MotoServer> {
  await checkMotoInstalled();
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const started = performance.now();
  const child = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A test process that dies without afterAll must not leave moto running.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    await stopChild(child);
  };
  // Kept only for an error message: moto logs methods and paths, never bodies.
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  try {
    const endpoint = await announcedEndpoint(child, () => output, timeoutMs);
    await untilAnswering(endpoint, started + timeoutMs - performance.now());
    return { endpoint, startupMs: Math.round(performance.now() - started), stop };
  } catch (error) {
    await stop();
    throw new Error(`moto server did not start: ${(error as Error).message}\n--- moto output ---\n${output}`);
  }
}

async function checkMotoInstalled(): Promise<void> {
  const probe = "import moto, moto.server; print(moto.__version__)";
  let version: string;
  try {
    const { stdout } = await promisify(execFile)("python3", ["-c", probe], { timeout: 30_000 });
    version = stdout.trim();
  } catch (error) {
    // The last line python printed (ModuleNotFoundError …), else why it could not run (ENOENT …).
    const said = String((error as { stderr?: unknown }).stderr ?? "")
      .trim()
      .split("\n")
      .at(-1);
    throw new Error(
      `these tests need moto's S3 server, and python3 cannot import it (${said || (error as Error).message}): run ${MOTO_INSTALL}`,
    );
  }
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10));
  if (major < 5 || (major === 5 && minor < 2)) {
    throw new Error(`these tests need moto 5.2 or later, python3 has moto ${version}: run ${MOTO_INSTALL}`);
  }
}

/** The `http://127.0.0.1:<port>` werkzeug prints once it has bound the socket. */
async function announcedEndpoint(
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const port = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output())?.[1];
    if (port !== undefined) return `http://127.0.0.1:${port}`;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`it exited (${child.exitCode ?? child.signalCode}) before listening`);
    }
    await sleep(50);
  }
  throw new Error(`it announced no address within ${timeoutMs} ms`);
}

async function untilAnswering(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + Math.max(timeoutMs, 1_000);
  for (;;) {
    try {
      await answers(endpoint);
      return;
    } catch (error) {
      if (performance.now() >= deadline)
        throw new Error(`${endpoint} did not answer: ${(error as Error).message}`);
      await sleep(100);
    }
  }
}

/** Resolves when the server sends any HTTP answer to `GET /`. */
function answers(endpoint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = request(`${endpoint}/`, { method: "GET", timeout: 2_000 }, (response) => {
      response.resume();
      response.on("end", () => resolve());
    });
    probe.on("timeout", () => probe.destroy(new Error("timed out")));
    probe.on("error", reject);
    probe.end();
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
