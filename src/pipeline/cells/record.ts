import { stat } from 'node:fs/promises';
import type { ExperimentRecord } from '../format/model';
import { sha256File } from '../models/download';
import { sha256 } from '../run/hash';
import type { NotebookSession } from '../session';
import type { PipelineSettings } from '../settings';
import type { CellLike } from './notebook';
import { collectPromptOverrides } from './notebook';

/**
 * The settings that change results, for the experiment record. Never the API key, the LLM base URL
 * (a notebook names a model, never where a key is sent), nor local paths.
 */
export function resultSettings(settings: PipelineSettings): Record<string, unknown> {
  const { llm, models } = settings;
  return {
    llm: { mode: llm.mode, models: llm.models, temperature: llm.temperature, maxTokens: llm.maxTokens, imageDetail: llm.imageDetail },
    models: { executionProvider: models.executionProvider },
  };
}

/**
 * Builds the experiment record stored in `metadata.alref.record` after a run: the version, the
 * result-affecting settings, the model checksums given, prompt hashes (and model checksums) found in
 * the session's results (`data.prompt: { name, templateHash }`, `data.models: { id: sha256 }`), the
 * prompt overrides given (less the failed prompts), each cell's LLM models and input hash. Hosts
 * call it through {@link ExperimentRecorder}, which decides what to pass.
 */
export function buildExperimentRecord(input: {
  version: string;
  settings: PipelineSettings;
  session: NotebookSession;
  promptOverrides: Record<string, string>;
  /** Templates whose prompt cell failed at its last run: their hash is dropped unless a stage used them. */
  failedPrompts?: readonly string[];
  /** Model files used by this session (`<model id>/<file key>` -> sha256), see {@link modelChecksums}. */
  modelChecksums?: Record<string, string>;
  previous?: ExperimentRecord;
}): ExperimentRecord {
  const record: ExperimentRecord = {
    extensionVersion: input.version,
    settings: resultSettings(input.settings),
    models: { ...(input.previous?.models ?? {}), ...(input.modelChecksums ?? {}) },
    prompts: { ...(input.previous?.prompts ?? {}) },
    cells: { ...(input.previous?.cells ?? {}) },
  };
  const llm: NonNullable<ExperimentRecord['llm']> = { ...(input.previous?.llm ?? {}) };
  for (const name of input.failedPrompts ?? []) {
    delete record.prompts[name];
  }
  for (const id of input.session.cellIds()) {
    const r = input.session.get(id);
    if (!r) {
      continue;
    }
    record.cells[id] = r.inputHash;
    const used = input.session.llmModels(id);
    if (used) {
      llm[id] = { requested: used.requested, reported: [...used.reported] };
    }
    const data = r.data as { prompt?: { name?: unknown; templateHash?: unknown }; models?: unknown } | null;
    if (data && typeof data === 'object') {
      if (data.prompt && typeof data.prompt.name === 'string' && typeof data.prompt.templateHash === 'string') {
        record.prompts[data.prompt.name] = data.prompt.templateHash;
      }
      if (data.models && typeof data.models === 'object') {
        for (const [m, h] of Object.entries(data.models as Record<string, unknown>)) {
          if (typeof h === 'string') {
            record.models[m] = h;
          }
        }
      }
    }
  }
  for (const [name, text] of Object.entries(input.promptOverrides)) {
    record.prompts[name] = sha256(text);
  }
  if (Object.keys(llm).length > 0) {
    record.llm = llm;
  }
  return record;
}

/**
 * sha256 of each model file a session used, as `<model id>/<file key>` -> hex. `cache` (path, size
 * and mtime -> hash) keeps a file from being hashed again while it is unchanged.
 */
export async function modelChecksums(
  used: ReadonlyArray<{ modelId: string; key: string; file: string }>,
  cache: Map<string, string>,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const u of used) {
    const st = await stat(u.file);
    const cacheKey = `${u.file}\n${st.size}\n${st.mtimeMs}`;
    let hash = cache.get(cacheKey);
    if (hash === undefined) {
      hash = await sha256File(u.file);
      cache.set(cacheKey, hash);
    }
    out[`${u.modelId}/${u.key}`] = hash;
  }
  return out;
}

/**
 * What the experiment record of one notebook needs besides its session, kept across runs by the VS
 * Code kernel and `alref notebook run` alike: how each prompt cell's last run went, and the model
 * file checksums computed so far. Both hosts write the record through {@link ExperimentRecorder.record},
 * so they write the same record for the same runs.
 */
export class ExperimentRecorder {
  /** Template name -> hash of the prompt cell's text at its last run; null when that run failed. */
  private readonly _prompts = new Map<string, string | null>();
  /** sha256 of model files already hashed, by path, size and mtime. */
  private readonly _checksums = new Map<string, string>();

  /** Notes how a cell run went for a prompt cell (`prompt` when it ran, `failedPrompt` when it failed); other cells are ignored. */
  noteRun(outcome: { prompt?: { name: string; hash: string }; failedPrompt?: string }): void {
    if (outcome.prompt) {
      this._prompts.set(outcome.prompt.name, outcome.prompt.hash);
    } else if (outcome.failedPrompt) {
      this._prompts.set(outcome.failedPrompt, null);
    }
  }

  /**
   * The record after a run: the notebook's prompt overrides whose cell did not fail at its last run
   * (a failed prompt cell leaves no hash), and the sha256 of the model files used (`usedModelFiles`,
   * from the model service). A model file that cannot be hashed is reported through `warn` and left out.
   */
  async record(input: {
    version: string;
    settings: PipelineSettings;
    session: NotebookSession;
    cells: readonly CellLike[];
    usedModelFiles: ReadonlyArray<{ modelId: string; key: string; file: string }>;
    previous?: ExperimentRecord;
    warn: (message: string) => void;
  }): Promise<ExperimentRecord> {
    let checksums: Record<string, string> = {};
    try {
      checksums = await modelChecksums(input.usedModelFiles, this._checksums);
    } catch (err) {
      input.warn(`Model checksums for the experiment record: ${err instanceof Error ? err.message : String(err)}`);
    }
    const { overrides } = collectPromptOverrides(input.cells);
    return buildExperimentRecord({
      version: input.version,
      settings: input.settings,
      session: input.session,
      promptOverrides: Object.fromEntries(Object.entries(overrides).filter(([name]) => this._prompts.get(name) !== null)),
      failedPrompts: [...this._prompts.entries()].filter(([, h]) => h === null).map(([name]) => name),
      modelChecksums: checksums,
      previous: input.previous,
    });
  }
}
