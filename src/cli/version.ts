import { readFileSync } from "node:fs";

/**
 * The version in the project's `package.json`, read when asked: the file sits one folder above the
 * built command (`dist/das-decrypt.mjs`) and two above this source file, and an installed package
 * always ships it, so `--version` needs no build step to stay right.
 * @throws Error when no `package.json` of this project is found next to the code.
 */
export function packageVersion(): string {
  for (const path of ["../package.json", "../../package.json"]) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === "das-decrypt" && typeof manifest.version === "string") return manifest.version;
    } catch {
      // Not there (or not ours): try the next place.
    }
  }
  throw new Error("package.json of das-decrypt not found next to the command");
}
