import { isMap, isSeq, parseDocument } from 'yaml';
import type { YAMLMap } from 'yaml';
import { PipelineError } from '../errors';

/** A pivot chosen by hand, as a cell's `overrides:` entry holds it (clip numbered from 1). */
export type PivotOverrideEntry =
  | { clip: number; object?: number; frame: number }
  | { clip: number; object?: number; candidate: number }
  | { clip: number; object?: number; box: [number, number, number, number] };

/**
 * The stage cell's YAML with `entry` written into its `overrides:` list: an entry for the same clip
 * and object (both without an object, or the same object) is replaced in place, any other one is
 * added at the end. The rest of the text (comments, key order, blank lines, flow or block style)
 * is kept as the user wrote it (the `yaml` package's Document API). Throws a PipelineError naming
 * `overrides` when the cell is not a mapping or `overrides` is not a list.
 */
export function setPivotOverride(source: string, entry: PivotOverrideEntry): string {
  const doc = parseDocument(source);
  if (doc.errors.length > 0) {
    throw new PipelineError(`The cell's YAML does not parse (${doc.errors[0].message.split('\n')[0]}); fix it before overriding a pivot.`, { stage: 'cell', kind: 'invalid-input' });
  }
  if (!isMap(doc.contents)) {
    throw new PipelineError('The cell is not a YAML mapping; cannot add overrides to it.', { stage: 'cell', kind: 'invalid-input' });
  }
  const root = doc.contents as YAMLMap;
  const node = doc.createNode(entry);
  node.flow = true;
  let list: unknown = root.get('overrides', true);
  if (list === undefined || list === null) {
    const seq = doc.createNode([]);
    root.set('overrides', seq);
    list = seq;
  }
  if (!isSeq(list)) {
    throw new PipelineError('overrides must be a list to add a pivot chosen by hand to it.', { stage: 'cell', kind: 'invalid-input', field: 'overrides' });
  }
  const same = (item: unknown): boolean => {
    if (!isMap(item)) {
      return false;
    }
    const js = item.toJSON() as { clip?: unknown; object?: unknown };
    return js.clip === entry.clip && (js.object ?? null) === (entry.object ?? null);
  };
  const at = list.items.findIndex(same);
  if (at >= 0) {
    const old = list.items[at] as YAMLMap;
    node.commentBefore = old.commentBefore;
    node.comment = old.comment;
    list.items[at] = node;
  } else {
    list.items.push(node);
  }
  return doc.toString();
}
