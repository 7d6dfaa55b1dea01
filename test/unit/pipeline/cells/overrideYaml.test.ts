import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { setPivotOverride } from '../../../../src/pipeline/cells/overrideYaml';
import { parseStageCell } from '../../../../src/pipeline/cells/parse';
import { PipelineError } from '../../../../src/pipeline/errors';

const CELL = `# pick the clearest frame
stage: pivot-frame # the LLM step
id: pf
strategy: llm

# hand-picked
overrides:
  - { clip: 2, frame: 10 } # was wrong
  - clip: 3
    frame: 20
`;

suite('writing a pivot override into a stage cell', () => {
  test('replaces the entry of the same clip in place and keeps every comment and the layout', () => {
    const out = setPivotOverride(CELL, { clip: 2, frame: 12 });
    assert.equal(out, CELL.replace('{ clip: 2, frame: 10 }', '{ clip: 2, frame: 12 }'));
  });

  test('adds an entry for another clip, or for the same clip of a named object, at the end', () => {
    const out = setPivotOverride(setPivotOverride(CELL, { clip: 4, frame: 30 }), { clip: 2, object: 1, frame: 11 });
    assert.deepEqual(parse(out).overrides, [{ clip: 2, frame: 10 }, { clip: 3, frame: 20 }, { clip: 4, frame: 30 }, { clip: 2, object: 1, frame: 11 }]);
    assert.ok(out.startsWith('# pick the clearest frame\nstage: pivot-frame # the LLM step\n'));
    assert.match(out, /# hand-picked\noverrides:/);
    assert.match(out, /# was wrong/);
  });

  test('creates overrides: in a cell without one; the result still parses as a valid cell', () => {
    const out = setPivotOverride('stage: pivot-box\nid: pb\nuses: { pivot-frame: pf }\n', { clip: 1, box: [10, 20, 110, 220] });
    assert.equal(out, 'stage: pivot-box\nid: pb\nuses: { pivot-frame: pf }\noverrides:\n  - { clip: 1, box: [ 10, 20, 110, 220 ] }\n');
    const parsed = parseStageCell(out, { cellId: 'pb', cellIndex: 3, knownCells: [{ id: 'pf', kind: 'pivot-frame' }] });
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.deepEqual(parsed.request.params.overrides, [{ clip: 1, box: [10, 20, 110, 220] }]);
  });

  test('refuses a cell that is not a mapping, or whose overrides is not a list', () => {
    assert.throws(() => setPivotOverride('- a\n- b\n', { clip: 1, frame: 0 }), PipelineError);
    assert.throws(() => setPivotOverride('stage: pivot-frame\noverrides: 3\n', { clip: 1, frame: 0 }), (err: unknown) => err instanceof PipelineError && err.field === 'overrides');
  });
});
