// Builds the `das-decrypt` command into one ESM file that plain `node` (≥ 20) runs: `npm run build:cli`
// (also run by `npm ci` / `npm install` through `prepare`).
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli/bin.ts"],
  outfile: "dist/das-decrypt.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
