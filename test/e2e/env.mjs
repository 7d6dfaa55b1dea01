// Locates the test toolchain installed by scripts/setup-e2e.sh (Node 24, code-server, Chromium),
// running the setup script first when it has not run yet on this machine.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in test/e2e/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Folder the setup script caches its downloads in (ignored by git). */
export const e2eCache = process.env.ALREF_E2E_CACHE ?? path.join(repoRoot, '.cache', 'e2e');

/** Ignored folder for screenshots and logs a person may look at after a run. */
export const resultsDir = path.join(repoRoot, 'test-results');

function readEnvFile() {
  const file = path.join(e2eCache, 'env.json');
  if (!existsSync(file)) {
    return undefined;
  }
  const env = JSON.parse(readFileSync(file, 'utf8'));
  const ok = [env.node, env.codeServerEntry, env.chromium].every((p) => typeof p === 'string' && existsSync(p));
  return ok ? env : undefined;
}

/**
 * The environment without what `npm run` adds (npm_* settings, NODE, INIT_CWD, node_modules/.bin and
 * node-gyp-bin on PATH): the setup script installs code-server with its own Node and npm, and npm's
 * variables from the outer `npm test` would otherwise steer that nested install.
 */
export function callerFreeEnv(env = process.env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || /^npm_/i.test(k) || ['NODE', 'NODE_OPTIONS', 'NODE_PATH', 'INIT_CWD'].includes(k)) {
      continue;
    }
    out[k] = v;
  }
  const parts = (env.PATH ?? '').split(path.delimiter);
  out.PATH = parts.filter((p) => p !== '' && !/node_modules[\\/]\.bin$|node-gyp-bin$|[\\/]@npmcli[\\/]/.test(p)).join(path.delimiter);
  return out;
}

/**
 * Returns `{ node, codeServerEntry, codeServerVersion, chromium }`. Runs scripts/setup-e2e.sh when the
 * toolchain is missing (it is idempotent and cached), so a fresh clone needs only `npm ci && npm test`.
 */
export function e2eEnv() {
  const env = readEnvFile();
  if (env) {
    return env;
  }
  return runSetup();
}

/** Runs scripts/setup-e2e.sh (idempotent; each finished step is skipped) and returns the tool paths. */
export function runSetup() {
  const script = path.join(repoRoot, 'scripts', 'setup-e2e.sh');
  if (!readEnvFile()) {
    console.log(`[e2e] test toolchain not found under ${e2eCache}; running ${path.relative(repoRoot, script)} (a few minutes the first time)`);
  }
  const r = spawnSync('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...callerFreeEnv(), ALREF_E2E_CACHE: e2eCache } });
  if (r.status !== 0) {
    throw new Error(`scripts/setup-e2e.sh failed (exit ${r.status ?? r.signal}); see its output above.`);
  }
  const env = readEnvFile();
  if (!env) {
    throw new Error(`scripts/setup-e2e.sh finished but ${path.join(e2eCache, 'env.json')} does not name usable tools.`);
  }
  return env;
}

/** Checks that the bundles a run needs exist, with a message saying how to build them. */
export function requireBuilt(...relPaths) {
  const missing = relPaths.filter((p) => !existsSync(path.join(repoRoot, p)));
  if (missing.length > 0) {
    throw new Error(`Missing build output: ${missing.join(', ')}. Run \`npm run build\` first.`);
  }
}
