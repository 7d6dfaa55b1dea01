import type { ExperimentRecord } from '../format/model';
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
  previous?: ExperimentRecord;
}): ExperimentRecord {
  const record: ExperimentRecord = {
    extensionVersion: input.version,
    settings: resultSettings(input.settings),
    models: { ...(input.previous?.models ?? {}) },
    prompts: { ...(input.previous?.prompts ?? {}) },
    cells: { ...(input.previous?.cells ?? {}) },
  };
  for (const id of input.session.cellIds()) {
    const r = input.session.get(id);
    if (!r) {
      continue;
    }
    record.cells[id] = r.inputHash;
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
  return record;
}
