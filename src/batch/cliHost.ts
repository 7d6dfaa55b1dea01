/**
 * The host side of headless runs (`alref run`, `alref eval`): one {@link CellHostContext} per run
 * folder, built from the CLI's settings, service environment and logger. A dataset video keeps its
 * own run folder, so recorded LLM exchanges and decoded frames are reused when a run resumes.
 */
import type { CellHostContext } from '../pipeline/cells';
import { createServices, type ServiceEnv } from '../pipeline/services';
import type { PipelineSettings } from '../pipeline/settings';
import type { Logger } from '../pipeline/types';
import type { RunnerHost } from './runner';

/** What {@link makeRunnerHost} needs from the CLI. */
export interface RunnerHostOptions {
  version: string;
  settings: PipelineSettings;
  log: Logger;
  /** Package root (prompts/, media/, assets/). */
  resourcesDir: string;
  /** The services' environment for a run folder (the CLI's `cliServiceEnv`). */
  serviceEnv(runDir: string): ServiceEnv;
  /** Folder relative paths resolve against (default: the current directory). */
  baseDir?: string;
}

/** Builds the runner host: fresh services per run folder, everything else shared. */
export function makeRunnerHost(options: RunnerHostOptions): RunnerHost {
  return {
    version: options.version,
    hostFor(runDir: string): CellHostContext {
      const services = createServices(options.settings, options.serviceEnv(runDir));
      return {
        runDir,
        baseDir: options.baseDir ?? process.cwd(),
        resourcesDir: options.resourcesDir,
        settings: options.settings,
        services,
        log: options.log,
      };
    },
  };
}
