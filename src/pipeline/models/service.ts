/**
 * The model subsystem as the stages see it: a store (manifest, cache, downloads) and a shared session
 * runtime. Created lazily by `createServices` (services.ts); nothing loads until a stage asks.
 */
import path from 'node:path';
import { PipelineError } from '../errors';
import type { ModelSettings } from '../settings';
import { BUILTIN_MODELS, DEFAULT_MODEL_IDS, loadUserManifest, mergeManifests, type ModelEntry, type ModelTask } from './manifest';
import { sharedRuntime, SessionRuntime, type SessionLease } from './runtime';
import { ModelStore } from './store';

export interface ModelService {
  readonly kind: 'models';
  readonly settings: ModelSettings;
  /** Manifest + cache (+ local folder); reads a user manifest file on first use. */
  store(): Promise<ModelStore>;
  readonly runtime: SessionRuntime;
  /** The model id configured for a task (settings, else the built-in default). */
  modelFor(task: ModelTask): string;
  /** Path of a model file; `missing-model` error (with the pull command and URL) when absent. */
  filePath(modelId: string, key: string, task?: ModelTask): Promise<string>;
  /**
   * Loads (or reuses) a graph of a model after checking that the model is of `task` and that the graph
   * has the manifest's signature. Release the lease when done.
   */
  session(modelId: string, key: string, task: ModelTask): Promise<SessionLease>;
  /** Notes for the user since the last call (e.g. CUDA fell back to CPU); stages yield them as warnings. */
  takeNotes(): string[];
  /** Every model file resolved so far (for the experiment record's checksums), by model id and file key. */
  usedFiles?(): Array<{ modelId: string; key: string; file: string }>;
}

/** Where the service keeps things, from the host. */
export interface ModelServiceEnv {
  userCacheDir: string;
  /** Base URL of a download mirror (`ModelStoreOptions.mirror`, store.ts). */
  mirror?: string;
  onNote?(message: string): void;
}

/** Default cache folder: `ModelSettings.cacheDir`, else `<userCacheDir>/models`. */
export function modelCacheDir(settings: ModelSettings, userCacheDir: string): string {
  return settings.cacheDir || path.join(userCacheDir, 'models');
}

class DefaultModelService implements ModelService {
  readonly kind = 'models' as const;
  readonly runtime: SessionRuntime;
  private _store?: Promise<ModelStore>;
  private readonly _used = new Map<string, { modelId: string; key: string; file: string }>();

  constructor(readonly settings: ModelSettings, private readonly _env: ModelServiceEnv, runtime?: SessionRuntime) {
    this.runtime =
      runtime ??
      sharedRuntime({
        executionProvider: settings.executionProvider,
        threads: settings.threads,
        idleReleaseMs: settings.idleReleaseSec !== undefined ? settings.idleReleaseSec * 1000 : undefined,
        onNote: _env.onNote,
      });
  }

  store(): Promise<ModelStore> {
    this._store ??= (async () => {
      let entries: ModelEntry[] = BUILTIN_MODELS;
      if (this.settings.manifestFile) {
        entries = mergeManifests(entries, await loadUserManifest(this.settings.manifestFile));
      }
      return new ModelStore({ cacheDir: modelCacheDir(this.settings, this._env.userCacheDir), localDir: this.settings.localDir, entries, mirror: this._env.mirror });
    })();
    // a failed manifest read is retried on the next call
    this._store.catch(() => {
      this._store = undefined;
    });
    return this._store;
  }

  modelFor(task: ModelTask): string {
    const configured = task === 'sam2-video' ? this.settings.segmenter : task === 'grounding-dino' ? this.settings.detector : this.settings.audioTagger;
    return configured || DEFAULT_MODEL_IDS[task];
  }

  async filePath(modelId: string, key: string, task?: ModelTask): Promise<string> {
    const file = await (await this.store()).filePath(modelId, key, task);
    this._used.set(`${modelId}/${key}`, { modelId, key, file });
    return file;
  }

  async session(modelId: string, key: string, task: ModelTask): Promise<SessionLease> {
    const store = await this.store();
    const entry = store.entry(modelId, task);
    const spec = store.fileSpec(entry, key);
    const file = await store.filePath(modelId, key, task);
    this._used.set(`${modelId}/${key}`, { modelId, key, file });
    return this.runtime.acquire(file, modelId, spec.signature);
  }

  usedFiles(): Array<{ modelId: string; key: string; file: string }> {
    return [...this._used.values()];
  }

  takeNotes(): string[] {
    return this.runtime.takeNotes();
  }
}

/** Builds the model service; pass a runtime to isolate sessions (tests), else the shared one is used. */
export function createModelService(settings: ModelSettings, env: ModelServiceEnv, runtime?: SessionRuntime): ModelService {
  return new DefaultModelService(settings, env, runtime);
}

/** The model service of a stage context, or a clear error when the host did not provide one. */
export function requireModels(services: { models?: ModelService }, stage: string): ModelService {
  if (!services.models) {
    throw new PipelineError('No model service is configured in this host; the models subsystem was not initialised.', { stage, kind: 'not-available' });
  }
  return services.models;
}
