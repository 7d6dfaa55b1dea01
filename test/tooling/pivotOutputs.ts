/**
 * Reading a pivot cell's outputs in tests: the pivot view a compact pivot cell (the default) keeps in
 * place of its per-clip traces and images.
 */
import { MIME } from '../../src/common/mime';
import type { PivotViewPayload } from '../../src/common/payloads';

/** Outputs as the pipeline's OutputModel and VS Code's NotebookCellOutput both have them. */
type Outputs = readonly { items: readonly { mime: string; data: Uint8Array }[] }[];

/** The pivot view payloads among `outputs` (one for a pivot cell that completed). */
export function pivotViews(outputs: Outputs): PivotViewPayload[] {
  return outputs.flatMap((o) => o.items.filter((i) => i.mime === MIME.pivotView).map((i) => JSON.parse(Buffer.from(i.data).toString('utf8')) as PivotViewPayload));
}

/** The one pivot view among `outputs`; throws when there is none or more than one. */
export function pivotViewOf(outputs: Outputs): PivotViewPayload {
  const views = pivotViews(outputs);
  if (views.length !== 1) {
    throw new Error(`expected one pivot view among the outputs, found ${views.length} (${outputs.map((o) => o.items[0]?.mime).join(', ')})`);
  }
  return views[0];
}
