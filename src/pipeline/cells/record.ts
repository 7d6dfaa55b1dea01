import { stat } from 'node:fs/promises';
import type { ExperimentRecord } from '../format/model';
import { sha256File } from '../models/download';
import { sha256 } from '../run/hash';
import type { NotebookSession } from '../session';
import type { PipelineSettings } from '../settings';

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
 * result-affecting settings, model checksums and prompt hashes found in the session's results
 * (`data.prompt: { name, templateHash }`, `data.models: { id: sha256 }`), the notebook's prompt
 * overrides, and each cell's input hash.
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
