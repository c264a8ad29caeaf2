import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";

const ROOT = join(import.meta.dirname, "..", "..");
const OUT = join(ROOT, ".serverless");
export const TEMPLATE = join(OUT, "cloudformation-template-update-stack.json");

/** Newest modification time under a path (a file, or a folder walked recursively). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/**
 * Runs `work` holding the lock every packaging of this service takes: several test files may
 * package at once (one worker each), and serverless-esbuild bundles in the one `.esbuild/` folder.
 */
function withPackagingLock<T>(work: () => T): T {
  const lock = join(ROOT, ".serverless.lock");
  for (const deadline = Date.now() + 300_000; ; ) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`${lock} held for 5 minutes: remove it if no packaging runs`);
      execFileSync("sleep", ["1"]);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Makes sure `.serverless/` holds the package of the current sources (CI packages before the
 * tests; a developer's stale or missing package is rebuilt here with `npm run package`).
 */
export function ensurePackaged(): void {
  const inputs = ["serverless.yml", "deploy", "resources", "src", "functions", "package-lock.json"]
    .map((name) => join(ROOT, name))
    .filter((path) => existsSync(path));
  const fresh = () => existsSync(TEMPLATE) && statSync(TEMPLATE).mtimeMs >= Math.max(...inputs.map(newest));
  // The others wait for the one that packages, then find the package fresh.
  while (!fresh()) {
    withPackagingLock(() => {
      if (!fresh())
        execFileSync("npm", ["run", "--silent", "package"], { cwd: ROOT, stdio: "ignore", timeout: 240_000 });
    });
  }
}

/**
 * Packages the service for `stage` with `params` into `dir` (`serverless package --package`),
 * leaving `.serverless/` alone, and returns its template. Takes ~5 s, without AWS credentials as
 * long as bucketName is set. osls refuses an empty `--param`: a parameter the `ci` stage sets is
 * emptied by packaging another stage, which starts from the defaults. Throws with osls's output
 * when packaging fails.
 */
export function packageTemplate(dir: string, stage: string, params: Record<string, string>): Template {
  const args = Object.entries(params).map(([name, value]) => {
    if (value === "")
      throw new Error(`--param=${name}= is refused by osls: use a stage that leaves ${name} empty`);
    return `--param=${name}=${value}`;
  });
  const serverless = join(ROOT, "node_modules", ".bin", "serverless");
  withPackagingLock(() => {
    try {
      execFileSync(serverless, ["package", "--stage", stage, "--package", dir, ...args], {
        cwd: ROOT,
        stdio: "pipe",
        timeout: 240_000,
      });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`serverless package --stage ${stage} ${args.join(" ")} failed:\n${stdout}${stderr}`, {
        cause: error,
      });
    }
  });
  return JSON.parse(readFileSync(join(dir, "cloudformation-template-update-stack.json"), "utf8")) as Template;
}

export type Template = {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> } & Record<string, unknown>>;
};

export function readTemplate(): Template {
  ensurePackaged();
  return JSON.parse(readFileSync(TEMPLATE, "utf8")) as Template;
}

/** The files of a zip archive (stored or deflated entries), read with the central directory. */
export function unzip(path: string): Map<string, Buffer> {
  return new Map([...unzipEntries(path)].map(([name, entry]) => [name, entry.bytes]));
}

/** A file of a zip archive: its bytes and its Unix mode (the high half of its external attributes). */
export interface ZipEntry {
  readonly bytes: Buffer;
  readonly mode: number;
}

/** The files of a zip archive with their Unix modes. */
export function unzipEntries(path: string): Map<string, ZipEntry> {
  const zip = readFileSync(path);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error(`${path} is not a zip archive`);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const files = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i += 1) {
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    const dataAt = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataAt, dataAt + compressedSize);
    const mode = zip.readUInt32LE(at + 38) >>> 16;
    if (!name.endsWith("/"))
      files.set(name, { bytes: method === 0 ? Buffer.from(data) : inflateRawSync(data), mode });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}
