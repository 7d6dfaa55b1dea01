#!/usr/bin/env node
// `npm run test:setup` (the first test step of `npm test`): installs or checks the test toolchain with
// scripts/setup-e2e.sh (Chromium, Node 24 + code-server, and Slurm for the cluster test when root).
// Idempotent and cached in .cache/e2e/; runs free of npm's environment (see callerFreeEnv).
import { runSetup } from './env.mjs';

try {
  runSetup();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
