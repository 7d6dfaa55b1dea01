/**
 * The host side of headless runs (`alref run`, `alref eval`): settings from the environment, the
 * services, a logger, and the package's resource folder. Pure Node; the CLI commands pass it to
 * {@link runPipeline} / {@link runDataset}.
 *
 * Environment: `OPENAI_API_KEY` (never written anywhere), `ALREF_LLM_BASE_URL` (an OpenAI-compatible
 * server), `ALREF_LLM_MODE` (`live` | `record` | `replay`), `ALREF_MODELS_DIR` (a folder of model files
 * used instead of downloading), `ALREF_MODEL_CACHE` (download cache, default `~/.cache/alref/models`).
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CellHostContext } from '../cells';
import type { Logger } from '../types';
import { createServices } from '../services';
import { defaultSettings, type PipelineSettings } from '../settings';
import type { RunnerHost } from './runner';

/** The package root (holds package.json, prompts/, media/), found upwards from this file. */
export function findResourcesDir(start = __dirname): string {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'alref-notebooks') {
          return dir;
        }
      } catch {
        // keep looking
      }
    }
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/** The package version, for experiment records. */
export function packageVersion(resourcesDir = findResourcesDir()): string {
  try {
    return (JSON.parse(readFileSync(path.join(resourcesDir, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Settings for a headless run: defaults, then the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): PipelineSettings {
  const mode = env.ALREF_LLM_MODE;
  const base = defaultSettings();
  return defaultSettings({
    ffmpegPath: env.ALREF_FFMPEG ?? '',
    ffprobePath: env.ALREF_FFPROBE ?? '',
    llm: {
      ...base.llm,
      baseUrl: env.ALREF_LLM_BASE_URL ?? '',
      mode: mode === 'record' || mode === 'replay' ? mode : 'live',
    },
    models: {
      ...base.models,
      localDir: env.ALREF_MODELS_DIR ?? '',
      cacheDir: env.ALREF_MODEL_CACHE ?? path.join(os.homedir(), '.cache', 'alref', 'models'),
    },
  });
}

/** A logger writing to stderr (stdout stays for tables and JSON). */
export function stderrLogger(quiet = false): Logger {
  return {
    info: (m) => {
      if (!quiet) {
        process.stderr.write(`${m}\n`);
      }
    },
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
    error: (m) => process.stderr.write(`error: ${m}\n`),
  };
}

/**
 * The runner host for the CLI: one set of services per run folder (a dataset video keeps its own
 * run folder, so recorded LLM exchanges and decoded frames are reused when a run resumes).
 */
export function cliRunnerHost(options: { settings?: PipelineSettings; log?: Logger; baseDir?: string } = {}): RunnerHost {
  const resourcesDir = findResourcesDir();
  const settings = options.settings ?? settingsFromEnv();
  const log = options.log ?? stderrLogger();
  return {
    version: packageVersion(resourcesDir),
    hostFor(runDir: string): CellHostContext {
      const services = createServices(settings, {
        runDir,
        resourcesDir,
        userCacheDir: path.join(os.homedir(), '.cache', 'alref'),
        getSecret: async () => process.env.OPENAI_API_KEY,
        onNote: (m) => log.info(m),
      });
      return { runDir, baseDir: options.baseDir ?? process.cwd(), resourcesDir, settings, services, log };
    },
  };
}
