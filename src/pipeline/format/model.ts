/**
 * The plain notebook model shared by the VS Code serializer, the CLI and the tests. It mirrors
 * `vscode.NotebookData` closely enough that the serializer is a field-by-field copy, but it has no
 * dependency on `vscode`.
 */

/** Version of the `.alref` layout written by this build (`metadata.alref.formatVersion`). */
export const FORMAT_VERSION = 1;

/** One item of an output: a MIME type and its bytes (text is UTF-8). */
export interface OutputItemModel {
  mime: string;
  data: Uint8Array;
}

/**
 * One cell output. Custom renderer payloads live in `metadata[OUTPUT_METADATA_KEY]` (see
 * `src/common/mime.ts`); the file keeps metadata as JSON.
 */
export interface OutputModel {
  items: OutputItemModel[];
  metadata?: Record<string, unknown>;
}

/** What VS Code calls `NotebookCellExecutionSummary`. Times are epoch milliseconds. */
export interface ExecutionSummaryModel {
  executionOrder?: number;
  success?: boolean;
  timing?: { startTime: number; endTime: number };
}

export type CellKind = 'markdown' | 'code';

export interface CellModel {
  kind: CellKind;
  /** `markdown`, `alref` (YAML stage cell), `alref-prompt`, or any other language id (kept as is). */
  language: string;
  source: string;
  /**
   * Cell metadata. `metadata.id` is the stable cell id (nbformat 4.5 `id`); everything else is kept
   * verbatim.
   */
  metadata: Record<string, unknown> & { id?: string };
  outputs: OutputModel[];
  executionSummary?: ExecutionSummaryModel;
}

/**
 * The experiment record kept in `metadata.alref.record`: what is needed to reproduce the outputs.
 * Never holds secrets (API keys) nor the LLM endpoint.
 */
export interface ExperimentRecord {
  /** Version of the extension / CLI that last ran a cell. */
  extensionVersion: string;
  /** Settings that change results (models per stage, temperature, thresholds...), never secrets. */
  settings: Record<string, unknown>;
  /** Model ids -> sha256 of their files, where known. */
  models: Record<string, string>;
  /** Prompt template name -> sha256 of the text used (defaults and notebook overrides). */
  prompts: Record<string, string>;
  /** Cell id -> input hash of the last successful run of that cell. */
  cells: Record<string, string>;
  /**
   * Cell id -> the LLM model the cell asked for and the model ids the server reported in its
   * replies (they differ when the endpoint maps or versions model names).
   */
  llm?: Record<string, { requested: string; reported: string[] }>;
}

export interface AlrefNotebookMetadata {
  formatVersion: number;
  record?: ExperimentRecord;
  [key: string]: unknown;
}

export interface NotebookModel {
  cells: CellModel[];
  /** Notebook metadata; `alref` holds {@link AlrefNotebookMetadata}, other keys are kept verbatim. */
  metadata: Record<string, unknown> & { alref?: AlrefNotebookMetadata };
}

/** An empty notebook of the current format version. */
export function emptyNotebook(): NotebookModel {
  return { cells: [], metadata: { alref: { formatVersion: FORMAT_VERSION } } };
}
