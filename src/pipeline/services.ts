import type { Logger } from './logger';
import type { PipelineSettings } from './settings';
import { createLlmService } from './llm/service';
import { createModelService } from './models/service';

/**
 * Long-lived backends a stage may use. Each field is owned by the subsystem named in its type and
 * created lazily by {@link createServices}; a missing service is a clear error from the stage that
 * needs it.
 */
export interface Services {
  /** LLM access with record/replay (llm/). */
  llm?: import('./llm/service').LlmService;
  /** ONNX model store and session pool (models/). */
  models?: import('./models/service').ModelService;
  /**
   * SAM 2 tracks a host computed ahead for this run's propagate stage (`alref eval` tracks the
   * expressions of one video together); absent elsewhere, and the stage then runs SAM 2 itself.
   */
  sam2Tracks?: import('./models/sam2/tracks').Sam2TrackCache;
}

/** What the host (extension or CLI) tells the services about where they run. */
export interface ServiceEnv {
  /** The notebook's run folder (recorded LLM exchanges live here). */
  runDir: string;
  /** Package root: prompts/, media/, assets/. */
  resourcesDir: string;
  /** Per-user storage (VS Code global storage, or ~/.cache/alref for the CLI): model cache default. */
  userCacheDir: string;
  /** Base URL of a mirror model downloads come from (see ModelStoreOptions.mirror); default the publishers'. */
  modelMirror?: string;
  /** Reads a secret (the API key) from SecretStorage or the environment; never stored anywhere else. */
  getSecret(name: 'openai-api-key'): Promise<string | undefined>;
  /** Where progress of long host-side work (downloads) is reported; optional. */
  onNote?(message: string): void;
  /** The host's log: diagnostics of libraries (the openai client) go here, never to the console. */
  log?: Logger;
  /** Record mode sends every LLM request again instead of reusing recorded exchanges (`--rerecord`). */
  rerecord?: boolean;
}

/**
 * Builds the services for one notebook or CLI run. Subsystems add their lazily created backend
 * here; nothing heavy happens until a stage touches it.
 */
export function createServices(_settings: PipelineSettings, _env: ServiceEnv): Services {
  const services: Services = {};
  let llm: import('./llm/service').LlmService | undefined;
  Object.defineProperty(services, 'llm', {
    enumerable: true,
    configurable: true,
    get: () => (llm ??= createLlmService({ runDir: _env.runDir, getSecret: (name) => _env.getSecret(name), log: _env.log, rerecord: _env.rerecord })),
  });
  let models: import('./models/service').ModelService | undefined;
  Object.defineProperty(services, 'models', {
    enumerable: true,
    configurable: true,
    get: () => (models ??= createModelService(_settings.models, { userCacheDir: _env.userCacheDir, mirror: _env.modelMirror, onNote: _env.onNote })),
  });
  return services;
}
