// Builds a throwaway copy of the files the tests open (running cells dirties notebooks, and
// notebooks are saved on close), keeping their layout relative to the repository root so that
// relative paths inside the demo notebook still resolve.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './env.mjs';

/** Folders copied into the test workspace when they exist (relative to the repo root). */
export const workspaceSources = ['examples', 'media/samples'];

/** Caches inside a notebook's run folder that a test must rebuild itself (decoded frames, temp files). */
const RUN_CACHES = /\.alref\.runs[\\/](frames|tmp)([\\/]|$)/;

/**
 * Copies the fixture files into `dest` (created): `examples/`, `media/samples/`, and the contents of
 * `test/fixtures/workspace/` at the top level. Run folders are copied (the demo replays recorded LLM
 * exchanges from them) except their frame caches, so that the tests decode the video themselves.
 */
export function prepareWorkspace(dest) {
  mkdirSync(dest, { recursive: true });
  const skipRuns = (src) => !RUN_CACHES.test(src);
  for (const rel of workspaceSources) {
    const src = path.join(repoRoot, rel);
    if (existsSync(src)) {
      cpSync(src, path.join(dest, rel), { recursive: true, filter: skipRuns });
    }
  }
  const fixture = path.join(repoRoot, 'test', 'fixtures', 'workspace');
  if (existsSync(fixture)) {
    cpSync(fixture, dest, { recursive: true, filter: skipRuns });
  }
  return dest;
}

/** A fresh scratch folder for one run, removed by `cleanup()` unless ALREF_E2E_KEEP=1. */
export function makeScratch(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `alref-${prefix}-`));
  return {
    dir,
    cleanup() {
      if (process.env.ALREF_E2E_KEEP === '1') {
        console.log(`[e2e] kept scratch folder ${dir}`);
        return;
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
