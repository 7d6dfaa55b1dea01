import type { OutputModel } from '../format/model';
import { bytesEqual } from '../format/nbformatOutputs';
import { stableStringify } from '../run/hash';

/** One step to bring an execution's outputs from what was written to what the run has now. */
export type OutputSyncOp =
  | { type: 'replaceAll' }
  | { type: 'replaceItems'; index: number }
  | { type: 'append'; from: number };

/** Whether two outputs' metadata are equal as JSON, whatever the order of their keys (none and `{}` are equal). */
export function sameOutputMetadata(a: Readonly<Record<string, unknown>> | undefined, b: Readonly<Record<string, unknown>> | undefined): boolean {
  return stableStringify(a ?? {}) === stableStringify(b ?? {});
}

/**
 * Plans the cheapest update from `written` (undefined: nothing written by this run yet) to `next`.
 * Outputs are compared by identity (the output builder replaces an output object when it changes):
 * changed outputs with unchanged metadata are updated in place, new outputs at the end are
 * appended, and anything else (the first write of a run, a removal, a metadata change) replaces
 * the whole list once.
 */
export function planOutputSync(written: readonly OutputModel[] | undefined, next: readonly OutputModel[]): OutputSyncOp[] {
  if (written === undefined || next.length < written.length || !written.every((w, i) => w === next[i] || sameOutputMetadata(w.metadata, next[i].metadata))) {
    return [{ type: 'replaceAll' }];
  }
  const ops: OutputSyncOp[] = [];
  written.forEach((w, i) => {
    if (w !== next[i]) {
      ops.push({ type: 'replaceItems', index: i });
    }
  });
  if (next.length > written.length) {
    ops.push({ type: 'append', from: written.length });
  }
  return ops;
}

/** Whether two item lists hold the same MIME types and bytes, in order (how VS Code matches outputs). */
export function sameOutputItems(a: ReadonlyArray<{ mime: string; data: Uint8Array }>, b: ReadonlyArray<{ mime: string; data: Uint8Array }>): boolean {
  return a.length === b.length && a.every((x, i) => x.mime === b[i].mime && bytesEqual(x.data, b[i].data));
}
