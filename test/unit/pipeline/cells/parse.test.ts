import assert from 'node:assert/strict';
import { parsePromptCell, parseStageCell } from '../../../../src/pipeline/cells/parse';
import type { KnownCell, StageParseResult } from '../../../../src/pipeline/cells/parse';
import { collectPromptOverrides, currentRequests, effectiveCellId, isLlmStage, knownCells } from '../../../../src/pipeline/cells/notebook';
import { STAGE_KINDS, STAGE_SCHEMAS } from '../../../../src/pipeline/stages/registry';

const known: KnownCell[] = [
  { id: 'vid', kind: 'video' },
  { id: 'ref', kind: 'reference' },
  { id: 'here', kind: 'pivot-frame' },
];

function errors(r: StageParseResult) {
  assert.equal(r.ok, false, 'expected the cell to be rejected');
  return r.ok ? [] : r.diagnostics.filter((d) => d.severity === 'error');
}

suite('cells: stage cell parsing and schema validation', () => {
  test('every stage kind has a schema that compiles and accepts a minimal cell', () => {
    const minimal: Record<string, string> = { video: 'source: a.mp4', evaluate: 'groundTruth: gt', sweep: 'variants: [{}]' };
    for (const kind of STAGE_KINDS) {
      assert.ok(STAGE_SCHEMAS[kind], `schema for ${kind}`);
      const r = parseStageCell(`stage: ${kind}\n${minimal[kind] ?? ''}\n`, { cellId: 'c', cellIndex: 1 });
      assert.ok(r.ok, `${kind}: ${JSON.stringify(!r.ok && r.diagnostics)}`);
    }
  });

  test('a valid video cell becomes a StageRequest with params, uses and the YAML id', () => {
    const r = parseStageCell('stage: video\nid: clip\nsource: media/dog 1.mp4\nmode: rvos\npreset: ref-davis17\ninterval: 5\nframesPerClip: 5\nmaxFrames: 200\nstartSec: 0.5\nendSec: 9\n', { cellId: 'cell-1', cellIndex: 1, knownCells: [{ id: 'clip', kind: 'video' }] });
    assert.ok(r.ok);
    assert.deepEqual(r.request, {
      kind: 'video',
      cellId: 'clip',
      cellIndex: 1,
      uses: {},
      params: { source: 'media/dog 1.mp4', mode: 'rvos', preset: 'ref-davis17', interval: 5, framesPerClip: 5, maxFrames: 200, startSec: 0.5, endSec: 9 },
    });
  });

  test('a wrong field type names the field and points at the value (0-based line/character)', () => {
    const [d] = errors(parseStageCell('stage: video\nsource: a.mp4\ninterval: "ten"\n', { cellId: 'c' }));
    assert.equal(d.field, 'interval');
    assert.match(d.message, /Field "interval" must be an integer, not string "ten"/);
    assert.deepEqual(d.range, { start: { line: 2, character: 10 }, end: { line: 2, character: 15 } });
  });

  test('an unknown field is reported at its key with a suggestion', () => {
    const [d] = errors(parseStageCell('stage: video\nsource: a.mp4\nintervall: 5\n', { cellId: 'c' }));
    assert.equal(d.field, 'intervall');
    assert.match(d.message, /Unknown field "intervall" for a video stage\. Did you mean "interval"\?/);
    assert.deepEqual(d.range, { start: { line: 2, character: 0 }, end: { line: 2, character: 9 } });
  });

  test('enum values, required fields and nested paths are named', () => {
    const e1 = errors(parseStageCell('stage: video\nsource: 5\nmode: vos\n', { cellId: 'c' }));
    assert.deepEqual(e1.map((d) => d.field).sort(), ['mode', 'source']);
    assert.match(e1.find((d) => d.field === 'mode')!.message, /must be one of: "rvos", "avs" \(got string "vos"\)/);
    const e2 = errors(parseStageCell('stage: evaluate\n', { cellId: 'c' }));
    assert.equal(e2[0].field, 'groundTruth');
    assert.match(e2[0].message, /Missing required field "groundTruth" for an evaluate stage/);
    const e3 = errors(parseStageCell('stage: pivot-box\ncandidates:\n  - [1, 2, 3, 4]\n  - [1, 2, 3]\n', { cellId: 'c' }));
    assert.equal(e3.length, 1);
    assert.equal(e3[0].field, 'candidates[1]');
    assert.equal(e3[0].range.start.line, 3);
    // the propagate stage has no check of its own: the schema refuses an unknown strategy
    const e4 = errors(parseStageCell('stage: propagate\nstrategy: first-frame\n', { cellId: 'c' }));
    assert.deepEqual(e4.map((d) => d.field), ['strategy']);
    // a sweep variant's step takes only that step's strategies (the schema says which)
    const e5 = errors(parseStageCell('stage: sweep\nvariants:\n  - {}\n  - { pivotFrame: { strategy: top-score } }\n  - { pivotBox: { strategy: middle } }\n', { cellId: 'c' }));
    assert.deepEqual(e5.map((d) => d.field), ['variants[1].pivotFrame.strategy', 'variants[2].pivotBox.strategy']);
    assert.match(e4[0].message, /must be one of: "pivots", "first-frame-top-box"/);
  });

  test('an unknown stage kind is an error at the value, with a suggestion and the list of kinds', () => {
    const [d] = errors(parseStageCell('stage: pivotframe\n', { cellId: 'c' }));
    assert.equal(d.field, 'stage');
    assert.match(d.message, /Unknown stage kind "pivotframe"\. Did you mean "pivot-frame"\?/);
    assert.match(d.message, /video, reference, lbru, pivot-frame, pivot-box, propagate, evaluate/);
    assert.deepEqual(d.range.start, { line: 0, character: 7 });
    const [m] = errors(parseStageCell('source: a.mp4\n', { cellId: 'c' }));
    assert.match(m.message, /Missing field "stage"/);
  });

  test('uses naming a missing cell, a cell of another kind, itself, or a non-kind is rejected', () => {
    const ds = errors(parseStageCell('stage: pivot-frame\nid: here\nuses:\n  video: vdi\n  reference: vid\n  pivot-frame: here\n  vidoe: x\n', { cellId: 'c', knownCells: known }));
    const by = Object.fromEntries(ds.map((d) => [d.field, d]));
    assert.match(by['uses.video'].message, /names cell "vdi", which does not exist in this notebook\. Did you mean "vid"\?/);
    assert.deepEqual(by['uses.video'].range.start, { line: 3, character: 9 });
    assert.match(by['uses.reference'].message, /names cell "vid", which is a video stage, not a reference stage/);
    assert.match(by['uses.pivot-frame'].message, /names this cell itself/);
    assert.match(by['uses.vidoe'].message, /"vidoe" is not a stage kind\. Did you mean "video"\?/);
    const ok = parseStageCell('stage: pivot-frame\nuses: { video: vid, reference: ref }\n', { cellId: 'c', knownCells: known });
    assert.ok(ok.ok);
    assert.deepEqual(ok.request.uses, { video: 'vid', reference: 'ref' });
  });

  test('invalid YAML gives positioned syntax errors; an empty cell and a non-mapping are explained', () => {
    const ds = errors(parseStageCell('stage: video\nsource: [a.mp4\n', { cellId: 'c' }));
    assert.ok(ds.length >= 1);
    assert.match(ds[0].message, /^Invalid YAML: /);
    assert.ok(ds[0].range.start.line >= 1);
    assert.match(errors(parseStageCell('  \n', { cellId: 'c' }))[0].message, /The cell is empty/);
    assert.match(errors(parseStageCell('- stage: video\n', { cellId: 'c' }))[0].message, /is a YAML mapping/);
    assert.match(errors(parseStageCell('stage: video\nstage: video\n', { cellId: 'c' }))[0].message, /Invalid YAML: .*unique/);
    assert.match(errors(parseStageCell('stage: video\nsource: a\nid: "bad id!"\n', { cellId: 'c' }))[0].message, /Field "id" must be 1-64 letters/);
  });

  test('duplicate YAML ids are reported', () => {
    const ds = errors(parseStageCell('stage: video\nid: vid\nsource: a\n', { cellId: 'c', knownCells: [...known, { id: 'vid' }] }));
    assert.match(ds[0].message, /Another cell of this notebook also has the id "vid"/);
  });
});

suite('cells: prompt cells and the notebook index', () => {
  test('first non-empty line names the template; the rest is the text, verbatim', () => {
    const r = parsePromptCell('\n  template: pivot-frame.cot  \nLine {{frameIds}}\n\nend\n');
    assert.ok(r.ok);
    assert.equal(r.name, 'pivot-frame.cot');
    assert.equal(r.text, 'Line {{frameIds}}\n\nend\n');
    assert.deepEqual(r.nameRange, { start: { line: 1, character: 12 }, end: { line: 1, character: 27 } });
    const bad = parsePromptCell('Describe the frames\ntemplate: x');
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.diagnostics[0].message : '', /first line of a prompt cell must be "template: <name>"/);
    assert.equal(!bad.ok ? bad.name : 'ok', undefined, 'a later "template:" line names nothing');
    const loose = parsePromptCell('\ntemplate : pivot-box.cot extra\ntext');
    assert.equal(!loose.ok ? loose.name : 'ok', 'pivot-box.cot');
    assert.equal(parsePromptCell('').ok, false);
    const empty = parsePromptCell('template: a');
    assert.ok(empty.ok && empty.diagnostics[0].severity === 'warning');
  });

  test('prompt overrides are collected from the document; the later cell wins and duplicates are named', () => {
    const cells = [
      { id: 'a', language: 'alref-prompt', source: 'template: t1\nfirst' },
      { id: 'b', language: 'alref', source: 'stage: video\nid: vid\nsource: x' },
      { id: 'c', language: 'alref-prompt', source: 'template: t1\nsecond' },
      { id: 'd', language: 'alref-prompt', source: 'template: t2\nother' },
      { id: 'e', language: 'alref-prompt', source: 'no header' },
      { id: 'f', language: 'markdown', source: '# x' },
    ];
    assert.deepEqual(collectPromptOverrides(cells), { overrides: { t1: 'second', t2: 'other' }, duplicates: ['t1'] });
    assert.deepEqual(knownCells(cells), [{ id: 'a' }, { id: 'vid', kind: 'video' }, { id: 'c' }, { id: 'd' }, { id: 'e' }, { id: 'f' }]);
    assert.equal(effectiveCellId(cells[1]), 'vid');
    assert.equal(effectiveCellId({ id: 'x', language: 'alref', source: 'stage: [' }), 'x');
  });

  test('currentRequests reads each stage cell as its text is now, by effective id; isLlmStage names the LLM stages', () => {
    const cells = [
      { id: 'c1', language: 'alref', source: 'stage: video\nid: vid\nsource: x.mp4\nfps: 4\n' },
      { id: 'c2', language: 'alref', source: 'stage: video\nsource: [\n' },
      { id: 'c3', language: 'alref-prompt', source: 'template: t\nx' },
    ];
    const now = currentRequests(cells, knownCells(cells));
    assert.deepEqual([now('vid')?.kind, now('vid')?.params.fps], ['video', 4]);
    assert.equal(now('c1'), undefined, 'a stage cell is known by its YAML id');
    assert.equal(now('c2'), undefined, 'a cell that does not parse');
    assert.equal(now('c3'), undefined, 'not a stage cell');
    assert.equal(now('nope'), undefined);
    assert.deepEqual(STAGE_KINDS.filter(isLlmStage), ['lbru', 'pivot-frame', 'pivot-box']);
    assert.equal(isLlmStage(undefined), false);
  });
});
