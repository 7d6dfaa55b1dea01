import assert from 'node:assert/strict';
import { parsePromptCell } from '../../../../src/pipeline/cells/parse';
import { promptTemplateDiagnostics, stageTemplateDiagnostics } from '../../../../src/pipeline/cells/templateChecks';

suite('template names diagnosed in the editor before a run', () => {
  test('a stage cell naming an undefined variant or another stage\'s template: an error on its template line', () => {
    const src = 'stage: pivot-frame\nid: pf\ntemplate: pivot-frame.cot/v3\n';
    const d = stageTemplateDiagnostics(src, 'pivot-frame', { template: 'pivot-frame.cot/v3' }, ['pivot-frame.cot/v2']);
    assert.equal(d.length, 1);
    assert.equal(d[0].field, 'template');
    assert.deepEqual(d[0].range.start, { line: 2, character: 0 });
    assert.match(d[0].message, /No prompt cell of this notebook defines the template variant "pivot-frame\.cot\/v3"/);
    assert.deepEqual(stageTemplateDiagnostics(src, 'pivot-frame', { template: 'pivot-frame.cot/v3' }, ['pivot-frame.cot/v3']), []);
    assert.match(stageTemplateDiagnostics('stage: lbru\ntemplate: pivot-box.cot\n', 'lbru', { template: 'pivot-box.cot' }, [])[0].message, /not a lbru template/);
    assert.deepEqual(stageTemplateDiagnostics('stage: lbru\n', 'lbru', {}, []), []);
  });

  test('a prompt cell with an unknown template or a variable its base lacks: an error on the name', () => {
    const r = parsePromptCell('template: pivot-frame.cot/v2\nBoxes: {{boxList}}\n');
    assert.ok(r.ok);
    const d = promptTemplateDiagnostics(r.name, r.text, r.nameRange);
    assert.equal(d.length, 1);
    assert.deepEqual(d[0].range, r.nameRange);
    assert.match(d[0].message, /line 1 of the template text.*unknown variable \{\{boxList\}\}/);
    assert.deepEqual(promptTemplateDiagnostics('pivot-frame.cot/v2', 'Frames {{frameIds}}', r.nameRange), []);
  });
});
