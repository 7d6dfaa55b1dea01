import type { FullImagePayload } from '../common/payloads';

/**
 * What a stage tells its listener while it runs. Stages never know who listens: the notebook turns
 * events into cell outputs, the CLI into files, a progress bar and a report.
 */
export type StageEvent =
  | ProgressEvent
  | TraceEvent
  | ImageEvent
  | TableEvent
  | MarkdownEvent
  | WarningEvent;

/** `done` of `total` units (frames, clips, bytes) finished. */
export interface ProgressEvent {
  type: 'progress';
  done: number;
  total: number;
  label?: string;
}

/**
 * A chunk of streamed LLM text. All events with the same `streamId` form one growing output;
 * `title` is taken from the first event of a stream. `final` closes the stream and may carry
 * the parsed answer for display.
 */
export interface TraceEvent {
  type: 'trace';
  streamId: string;
  title?: string;
  delta: string;
  final?: { answer?: string; valid: boolean; note?: string; usage?: UsageSummary };
}

export interface UsageSummary {
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  costUsd?: number;
  model?: string;
  /** Record mode answered from an exchange already recorded: no request was sent (see `--rerecord`). */
  reused?: boolean;
}

/**
 * An image at display size. When `renderer` is set, the notebook shows it with that custom
 * renderer (the image bytes are the renderer item's data, `renderer.payload` goes into the output
 * metadata) and keeps the plain image as a fallback for readers without the extension.
 * `id` lets a later event with the same id replace the image in place.
 */
export interface ImageEvent {
  type: 'image';
  id?: string;
  mime: 'image/png' | 'image/jpeg';
  data: Uint8Array;
  caption?: string;
  renderer?: { mime: string; payload: unknown };
  /**
   * The full-size original in the run folder, when `data` is a display-size copy (set by
   * run/displayImages.ts as the cell runner stores the image, never by a stage).
   */
  full?: FullImagePayload;
}

export interface TableEvent {
  type: 'table';
  title?: string;
  columns: string[];
  rows: Array<Array<string | number | null>>;
  /** Optional JSON payload for a custom renderer (e.g. metrics); the markdown table is the fallback. */
  renderer?: { mime: string; payload: unknown };
  /**
   * Earlier outputs this table replaces (a summary view that holds what they showed): trace stream
   * ids, image ids and markdown ids of this run. They are removed when the table arrives.
   */
  supersedes?: { traces?: string[]; images?: string[]; markdown?: string[] };
}

export interface MarkdownEvent {
  type: 'markdown';
  text: string;
  /** Names the output, so that a later table can supersede it. */
  id?: string;
}

export interface WarningEvent {
  type: 'warning';
  message: string;
}
