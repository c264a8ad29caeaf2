/**
 * `npm start -- --serve` as a user runs it: the demo, then its local S3 and KMS kept running. The
 * `export` lines and examples it prints, pasted into another shell (a POSIX `sh` with nothing else
 * in its environment), run the documented commands through the built `das-decrypt` that `npx`
 * finds; Ctrl-C then stops the servers and the process exits 0. Loopback only.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { shellQuote } from "../../src/local/serve.ts";

const ROOT = join(import.meta.dirname, "..", "..");

const BUCKET = "das-audit-local";
const ENGINES = ["aurora-postgresql", "aurora-mysql", "oracle", "sqlserver"];
/**
 * What `npm start` runs (`tsx src/local/start.ts`), as one process: the tsx command's own relay of
 * signals to its child races with a child that stops as fast as this one, and is not what is tested.
 */
const START = ["--import", "tsx", "src/local/start.ts", "--serve"];
const READY = /^serving; Ctrl-C stops the local S3 and KMS$/m;

/** What a command printed, and how it ended. */
interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let server: ChildProcess | undefined;
let serverExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let printed = "";
let scratch: string;
let exportsText: string;
let exported: Map<string, string>;
let examples: string[];

/** The printed example that matches `shape`; there must be exactly one. */
function example(shape: RegExp): string {
  const found = examples.filter((command) => shape.test(command));
  expect(found, `one printed example matching ${shape}`).toHaveLength(1);
  return found[0] as string;
}

/**
 * Runs one printed command as a user would in another shell of the same folder: `sh` with the
 * printed `export` lines and nothing else but PATH, an empty HOME (no AWS config or credentials of
 * this machine) and npm's update check off (no network).
 */
async function inShell(command: string): Promise<Ran> {
  const child = spawn("sh", ["-c", `${exportsText}\n${command}`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: scratch, npm_config_update_notifier: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const [code] = await once(child, "close");
  clearTimeout(timer);
  return { code: code as number | null, stdout, stderr };
}

/** The SDK's warning on Node 20 that later versions need Node 22 (the Lambda runtime's major). */
const NODE_WARNING =
  /^\(node:\d+\) Warning: NodeVersionSupportWarning:[\s\S]*?^\(Use `node --trace-warnings[^\n]*\n/gm;

/** The lines of stderr, without the SDK's Node 20 warning. */
function said(stderr: string): string[] {
  return stderr
    .replace(NODE_WARNING, "")
    .split("\n")
    .filter((line) => line !== "");
}

const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

function portOf(endpoint: string | undefined): number {
  const match = /^http:\/\/127\.0\.0\.1:(\d+)$/.exec(endpoint ?? "");
  expect(match, `a loopback endpoint: ${endpoint}`).not.toBeNull();
  return Number(match?.[1]);
}

/** Resolves with the error code of a TCP connection to 127.0.0.1:port, or "connected". */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "das-serve-"));
  // `npx das-decrypt` runs the package's bin, dist/das-decrypt.mjs: built from these sources.
  execFileSync("npm", ["run", "--silent", "build:cli"], { cwd: ROOT });
  // Its own process group, so SIGINT reaches it the way a terminal's Ctrl-C does: every process at once.
  const child = spawn(process.execPath, START, {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, npm_config_update_notifier: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = child;
  serverExit = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      printed += chunk;
      if (READY.test(printed)) resolve();
    });
    void serverExit.then(({ code }) => reject(new Error(`ended (${code}) before serving: ${stderr}`)));
  });
  exportsText = printed
    .split("\n")
    .filter((line) => line.startsWith("export "))
    .join("\n");
  exported = new Map(
    exportsText.split("\n").map((line) => {
      const [name = "", ...value] = line.slice("export ".length).split("=");
      return [name, value.join("=")];
    }),
  );
  examples = printed.split("\n").filter((line) => line.startsWith("npx das-decrypt "));
}, 90_000);

afterAll(async () => {
  // Only when a test failed before Ctrl-C stopped it.
  if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null)
    process.kill(-server.pid, "SIGKILL");
  await rm(scratch, { recursive: true, force: true });
});

describe("npm start -- --serve", () => {
  test("prints the demo (one decrypted line, KMS calls counted in the singular for one) and export lines for the two loopback endpoints, the region, credentials and each stream's resource id", () => {
    // Only the count lines are compared: the rest of the demo shows (fake) SQL text.
    const counts = printed.split("\n").filter((line) => / KMS (Decrypt )?calls?\b/.test(line));
    expect(counts.filter((line) => /\b1 KMS calls?\b/.test(line))).toEqual([
      expect.stringMatching(/\(60 records, 280 events, 4 heartbeats dropped, 1 KMS call, \d+ ms\)$/),
      expect.stringMatching(/\(60 records, 280 events, 4 heartbeats dropped, 1 KMS call, \d+ ms\)$/),
      expect.stringMatching(/\(60 records, 280 events, 4 heartbeats dropped, 1 KMS call, \d+ ms\)$/),
      expect.stringMatching(/\(60 records, 280 events, 4 heartbeats dropped, 1 KMS call, \d+ ms\)$/),
    ]);
    const sample = /^one decrypted line \(8 of its \d+ fields\):\n {2}(\{.*\})$/m.exec(printed);
    expect(JSON.parse(sample?.[1] ?? "{}")).toMatchObject({ engine: "aurora-postgresql", exitCode: "28P01" });

    expect([...exported.keys()]).toEqual([
      "AWS_ENDPOINT_URL_S3",
      "AWS_ENDPOINT_URL_KMS",
      "AWS_REGION",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "S3_FORCE_PATH_STYLE",
      "DAS_RESOURCE_ID_MAP",
    ]);
    portOf(exported.get("AWS_ENDPOINT_URL_S3"));
    portOf(exported.get("AWS_ENDPOINT_URL_KMS"));
    expect(exported.get("AWS_REGION")).toBe("us-east-1");
    // As a shell reads it: quoted JSON, one prefix per engine.
    const map = execFileSync("sh", ["-c", `${exportsText}\nprintf %s "$DAS_RESOURCE_ID_MAP"`], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });
    expect(Object.keys(JSON.parse(map) as object)).toEqual(ENGINES.map((engine) => `raw/${engine}/`));
  });

  test("cat s3://… | head -3: three decrypted event lines on stdout, exit 0", async () => {
    const ran = await inShell(example(/^npx das-decrypt cat s3:\/\/\S+ \| head -3$/));
    expect(ran.code).toBe(0);
    const lines = jsonLines(ran.stdout);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatchObject({ engine: "aurora-postgresql", type: "record" });
    expect(said(ran.stderr)).toEqual([]);
  });

  test("the README's cat … | jq -c 'select(.exitCode == \"28P01\")': the command before the pipe as printed, the filter applied here (jq need not be installed)", async () => {
    const printedExample = example(/\| jq -c 'select\(\.exitCode == "28P01"\)'$/);
    const command = printedExample.replace(/ \| jq -c 'select\(\.exitCode == "28P01"\)'$/, "");
    expect(command).toMatch(/^npx das-decrypt cat s3:\/\/\S+$/);
    const ran = await inShell(command);
    expect(ran.code).toBe(0);
    const failed = jsonLines(ran.stdout).filter((line) => line.exitCode === "28P01");
    expect(failed.length).toBeGreaterThan(0);
    expect(said(ran.stderr)).toEqual([expect.stringMatching(/^120 records, 114 events, 0 quarantined$/)]);
  });

  test("cat of a local copy with --resource-id and --format records: one DAS record on stdout, exit 0", async () => {
    const ran = await inShell(
      example(
        /^npx das-decrypt cat \.local\/sample\/raw\/\S+ --resource-id db-\w+ --format records \| head -1$/,
      ),
    );
    expect(ran.code).toBe(0);
    const [record, ...more] = jsonLines(ran.stdout);
    expect(more).toEqual([]);
    expect(record).toMatchObject({ type: "DatabaseActivityMonitoringRecord" });
    expect(Array.isArray(record?.databaseActivityEventList)).toBe(true);
  });

  test("reprocess --dry-run --force: the eight raw keys on stdout, one a line, exit 0", async () => {
    const ran = await inShell(example(/^npx das-decrypt reprocess s3:\/\/\S+\/raw\/ --dry-run --force$/));
    expect(ran.code).toBe(0);
    const keys = ran.stdout.trim().split("\n");
    expect(keys).toHaveLength(8);
    for (const key of keys) expect(key).toMatch(new RegExp(`^s3://${BUCKET}/raw/(${ENGINES.join("|")})/`));
    expect(said(ran.stderr).at(-1)).toBe("8 objects: 8 to send, 0 up to date, 0 failed");
  });

  test("reprocess --local: the demo's outputs are up to date, summary on stderr, nothing on stdout, exit 0", async () => {
    const ran = await inShell(example(/^npx das-decrypt reprocess s3:\/\/\S+\/raw\/ --local$/));
    expect(ran).toMatchObject({ code: 0, stdout: "" });
    expect(said(ran.stderr).at(-1)).toBe("8 objects: 0 sent, 8 up to date, 0 failed");
  });

  test("reprocess --local --force: all eight decrypted again in the shell's process, exit 0", async () => {
    const ran = await inShell(example(/^npx das-decrypt reprocess s3:\/\/\S+\/raw\/ --local --force$/));
    expect(ran).toMatchObject({ code: 0, stdout: "" });
    expect(said(ran.stderr).at(-1)).toBe("8 objects: 8 sent, 0 up to date, 0 failed");
  });

  test("reprocess of one stream's hour range with --from/--to --local --force: its two objects, exit 0", async () => {
    const ran = await inShell(
      example(
        /^npx das-decrypt reprocess s3:\/\/\S+\/raw\/aurora-postgresql\/ --from \S+ --to \S+ --local --force$/,
      ),
    );
    expect(ran).toMatchObject({ code: 0, stdout: "" });
    expect(said(ran.stderr).at(-1)).toBe("2 objects: 2 sent, 0 up to date, 0 failed");
  });

  test("every printed example is one of those run above", () => {
    expect(examples).toHaveLength(7);
  });

  test("Ctrl-C (SIGINT to the process group) stops the S3 and KMS servers and exits 0", async () => {
    const ports = [exported.get("AWS_ENDPOINT_URL_S3"), exported.get("AWS_ENDPOINT_URL_KMS")].map(portOf);
    expect(await Promise.all(ports.map(tryConnect))).toEqual(["connected", "connected"]);
    const pid = server?.pid;
    if (pid === undefined) throw new Error("the server did not start");
    const sent = Date.now();
    process.kill(-pid, "SIGINT");
    expect(await serverExit).toEqual({ code: 0, signal: null });
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(printed.trimEnd().split("\n").at(-1)).toBe("SIGINT: stopping the local S3 and KMS");
    expect(await Promise.all(ports.map(tryConnect))).toEqual(["ECONNREFUSED", "ECONNREFUSED"]);
  });
});

test("shellQuote: sh reads back quotes, spaces, $, backslashes and JSON exactly", () => {
  for (const value of [`{"raw/a/":"cluster-X"}`, "it's $HOME \\n `x`", "plain-value_1.2:3/4", ""]) {
    const read = execFileSync("sh", ["-c", `printf %s ${shellQuote(value)}`], { encoding: "utf8" });
    expect(read).toBe(value);
  }
});
