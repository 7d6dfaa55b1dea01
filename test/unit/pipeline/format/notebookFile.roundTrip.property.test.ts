import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseNotebook, serializeNotebook } from '../../../../src/pipeline/format';
import type { CellModel, NotebookModel, OutputModel } from '../../../../src/pipeline/format';
import { stableStringify } from '../../../../src/pipeline/run/hash';

const enc = new TextEncoder();
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(stableStringify(v)) as unknown);

const bytes = fc.uint8Array({ maxLength: 64 });
const item = fc.oneof(
  fc.record({ mime: fc.constantFrom('image/png', 'image/jpeg', 'application/octet-stream'), data: bytes }).map((r) => ({ ...r })),
  fc.record({ mime: fc.constantFrom('text/plain', 'text/markdown', 'application/vnd.code.notebook.stderr'), data: text.map((t) => enc.encode(t)) }).map((r) => ({ ...r })),
  fc.record({ mime: fc.constantFrom('application/vnd.alref.metrics+json', 'application/json'), data: json.map((v) => enc.encode(stableStringify(v))) }).map((r) => ({ ...r })),
);

const output: fc.Arbitrary<OutputModel> = fc
  .tuple(fc.uniqueArray(item, { selector: (i) => i.mime, minLength: 1, maxLength: 4 }), fc.option(fc.dictionary(fc.constantFrom('alref', 'caption', 'x'), json, { minKeys: 1 }).map((d) => ({ ...d })), { nil: undefined }), fc.boolean())
  .map(([items, metadata, twin]) => {
    // Sometimes add a custom binary renderer item with the same bytes as an image item.
    const image = items.find((i) => i.mime.startsWith('image/'));
    const all = twin && image ? [{ mime: 'application/vnd.alref.frame-grid', data: image.data }, ...items] : items;
    return metadata ? { items: all, metadata } : { items: all };
  });

const cell: fc.Arbitrary<CellModel> = fc.oneof(
  fc.record({ kind: fc.constant('markdown' as const), language: fc.constant('markdown'), source: text, metadata: fc.constant({} as CellModel['metadata']), outputs: fc.constant([] as OutputModel[]) }),
  fc.record({
    kind: fc.constant('code' as const),
    language: fc.constantFrom('alref', 'alref-prompt'),
    source: text,
    metadata: fc.dictionary(fc.constantFrom('tags', 'collapsed', 'custom'), json).map((d) => ({ ...d })),
    outputs: fc.array(output, { maxLength: 3 }),
    executionSummary: fc.option(fc.record({ executionOrder: fc.nat(), success: fc.boolean(), timing: fc.record({ startTime: fc.nat(), endTime: fc.nat() }).map((t) => ({ ...t })) }).map((r) => ({ ...r })), { nil: undefined }),
  }),
);

suite('format: round-trip property', () => {
  test('serialize -> parse -> serialize is byte-identical, and parse gives back the model', () => {
    fc.assert(
      fc.property(fc.array(cell, { maxLength: 5 }), fc.dictionary(fc.constantFrom('kernelspec', 'title', 'tags'), json).map((d) => ({ ...d })), (cells, meta) => {
        const model: NotebookModel = { cells: cells.map((c, i) => ({ ...c, metadata: { ...c.metadata, id: `c${i}` } })), metadata: { ...meta, alref: { formatVersion: 1 } } };
        for (const c of model.cells) {
          if (c.executionSummary === undefined) {
            delete c.executionSummary;
          }
        }
        const first = serializeNotebook(model);
        const back = parseNotebook(first);
        assert.equal(serializeNotebook(back), first);
        assert.equal(back.cells.length, model.cells.length);
        back.cells.forEach((c, i) => {
          const m = model.cells[i];
          assert.equal(c.source, m.source);
          assert.equal(c.language, m.language);
          assert.deepEqual(c.metadata, m.metadata);
          assert.deepEqual(c.executionSummary, m.executionSummary);
          assert.equal(c.outputs.length, m.outputs.length);
          c.outputs.forEach((o, k) => {
            assert.deepEqual(o.items.map((x) => [x.mime, [...x.data]]), m.outputs[k].items.map((x) => [x.mime, [...x.data]]));
            assert.deepEqual(o.metadata, m.outputs[k].metadata);
          });
        });
      }),
      { numRuns: 200 },
    );
  });

  test('parsing arbitrary text never returns an empty notebook for non-empty garbage', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        if (s.trim() === '') {
          return;
        }
        try {
          const nb = parseNotebook(s);
          // Only a real nbformat-4 object parses.
          assert.equal((JSON.parse(s) as { nbformat: number }).nbformat, 4);
          assert.ok(Array.isArray(nb.cells));
        } catch (err) {
          assert.match((err as Error).message, /The file was not changed\.$/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
