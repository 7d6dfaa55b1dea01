import assert from 'node:assert/strict';
import { MAX_YAML_ALIAS_COUNT, parseStageCell } from '../../../../src/pipeline/cells/parse';
import type { StageParseResult } from '../../../../src/pipeline/cells/parse';

function rejected(r: StageParseResult) {
  assert.equal(r.ok, false, 'expected the cell to be rejected');
  return r.ok ? [] : r.diagnostics.filter((d) => d.severity === 'error');
}

/** A billion-laughs document: 9 levels of 9 aliases each (9^9 values if expanded). */
function aliasBomb(levels = 9): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < levels; i++) {
    lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
  }
  return `stage: reference\nexpression: x\n${lines.join('\n')}\n`;
}

suite('cells: YAML aliases in stage cells are cell errors', () => {
  test('an alias without an anchor is a diagnostic at the alias, not an exception', () => {
    const r = parseStageCell('stage: reference\nexpression: *x\n', { cellId: 'c2', cellIndex: 2 });
    const [e, ...more] = rejected(r);
    assert.equal(more.length, 0);
    assert.match(e.message, /^Invalid YAML: the alias "\*x" names no anchor \("&x"\) set before it/);
    assert.deepEqual(e.range.start, { line: 1, character: 12 });
    assert.equal(r.ok ? '' : r.cellId, 'c2');
  });

  test('an alias bomb is refused quickly, at its first alias, within the alias bound', () => {
    const r = parseStageCell(aliasBomb(), { cellId: 'c', cellIndex: 1 });
    const [e] = rejected(r);
    assert.match(e.message, new RegExp(`aliases expand to too many values \\(more than ${MAX_YAML_ALIAS_COUNT}\\)`));
    assert.equal(e.range.start.line, 3, 'the first alias is on line 4');
  });

  test('a few aliases within the bound still parse (and are then checked by the schema as usual)', () => {
    const r = parseStageCell('stage: reference\nexpression: &e the dog\nnote: *e\n', { cellId: 'c', cellIndex: 1 });
    const errs = rejected(r);
    assert.ok(errs.some((d) => /Unknown field "note"/.test(d.message)), JSON.stringify(errs));
  });

  test('very deep YAML nesting and odd bytes are diagnostics too', () => {
    const deep = parseStageCell(`stage: reference\nexpression: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, { cellId: 'c', cellIndex: 1 });
    assert.ok(rejected(deep).length > 0);
    const odd = parseStageCell('stage: reference\nexpression: "\uFFFD\u0000\uD800"\n', { cellId: 'c', cellIndex: 1 });
    assert.ok(odd.ok, 'odd characters in a quoted string are the string');
    assert.equal(odd.request.params.expression, '\uFFFD\u0000\uD800');
    const tab = rejected(parseStageCell('\uFEFFstage: reference\n\texpression: x\n', { cellId: 'c', cellIndex: 1 }));
    assert.match(tab[0]?.message ?? '', /^Invalid YAML: Tabs are not allowed/);
    assert.equal(tab[0].range.start.line, 1);
    const binary = rejected(parseStageCell('stage: reference\nexpression: !!binary x\n', { cellId: 'c', cellIndex: 1 }));
    assert.deepEqual([binary.length, binary[0].field], [1, 'expression']);
    assert.match(binary[0].message, /^Field "expression" must be a string/);
    const complexKey = rejected(parseStageCell('stage: reference\n? [a, b]\n: c\n', { cellId: 'c', cellIndex: 1 }));
    assert.match(complexKey[0]?.message ?? '', /^Unknown field .* for a reference stage/);
  });
});
