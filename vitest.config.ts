import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Scans everything each test file prints or logs for plaintext audit data and ciphertext.
    setupFiles: ["test/support/suite-leak-scan.ts"],
    reporters: ["default"],
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      POWERTOOLS_DEV: "false",
      // Tests that are about metrics turn them on themselves; elsewhere EMF lines are noise.
      POWERTOOLS_METRICS_DISABLED: "true",
    },
  },
});
