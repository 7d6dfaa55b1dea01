import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServiceEnv } from '../pipeline/services';
import type { Logger } from '../pipeline/types';

/**
 * The package root (prompts/, media/, assets/, package.json): the nearest folder above this file
 * whose package.json is this package. From the bundle (`dist/cli.js`) that is `dist/..`.
 */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'alref-notebooks') {
          return dir;
        }
      } catch {
        // not ours; keep looking
      }
    }
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
}

/** The package version from package.json. */
export function packageVersion(): string {
  try {
    return String((JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
}

/** Per-user cache: `$XDG_CACHE_HOME/alref`, else `~/.cache/alref`. */
export function userCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg && xdg !== '' ? xdg : path.join(os.homedir(), '.cache'), 'alref');
}

/** The service environment of a CLI run; the API key comes only from `OPENAI_API_KEY`, a model mirror from `ALREF_MODELS_MIRROR`. */
export function cliServiceEnv(runDir: string, onNote?: (m: string) => void): ServiceEnv {
  return {
    runDir,
    resourcesDir: packageRoot(),
    userCacheDir: userCacheDir(),
    modelMirror: process.env.ALREF_MODELS_MIRROR || undefined,
    getSecret: async (name) => (name === 'openai-api-key' ? process.env.OPENAI_API_KEY || undefined : undefined),
    onNote,
  };
}

/** A logger writing warnings and errors to stderr, info only when verbose. */
export function stderrLogger(verbose: boolean): Logger {
  return {
    info: (m) => {
      if (verbose) {
        process.stderr.write(`${m}\n`);
      }
    },
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
    error: (m) => process.stderr.write(`error: ${m}\n`),
  };
}
