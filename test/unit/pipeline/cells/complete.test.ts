/**
 * Editing prompt cells: template names completed in prompt and stage cells (built-ins and the
 * notebook's variants), the text "Insert Prompt Cell" starts a cell with, word wrap in prompt cells,
 * and the language of a cell added below a prompt cell.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../../../../src/common/mime';
import { completePromptCell, completeStageCell } from '../../../../src/pipeline/cells/complete';
import { languageForAddedCell } from '../../../../src/pipeline/cells/notebook';
import { newPromptCellSource } from '../../../../src/pipeline/llm/promptCell';
import { templateNames } from '../../../../src/pipeline/llm/templates';

const root = path.resolve(__dirname, '../../../..');
const labels = (items: { label: string }[]) => items.map((i) => i.label);

suite('completion of template names and variables', () => {
  const defined = ['pivot-frame.cot/v2', 'pivot-box.cot/short', 'pivot-frame.cot'];

  test('a stage cell at "template:": the built-ins of its kind, then the variants of them the notebook defines', () => {
    const src = 'stage: pivot-frame\ntemplate: pivot-fr\n';
    const items = completeStageCell(src, 1, 'template: pivot-fr'.length, [], defined);
    assert.deepEqual(labels(items), ['pivot-frame.cot', 'pivot-frame.cot/v2']);
    assert.ok(items.every((i) => i.replaceFrom === 'template: '.length), 'the whole value is replaced, dots and slashes included');
    assert.match(items[0].detail ?? '', /overridden by a prompt cell/);
    assert.match(items[1].detail ?? '', /variant of pivot-frame\.cot/);
    assert.deepEqual(labels(completeStageCell('stage: pivot-box\ntemplate: ', 1, 10, [], defined)),
      ['pivot-box.cot', 'pivot-box.select', 'pivot-box.describe-select', 'pivot-box.avs', 'pivot-box.cot/short']);
  });

  test('a prompt cell: every template name on its first line, the template\'s variables after {{', () => {
    const first = completePromptCell('template: piv', 0, 13, defined);
    assert.deepEqual(labels(first), [...templateNames(), 'pivot-frame.cot/v2', 'pivot-box.cot/short']);
    assert.equal(first[0].replaceFrom, 10);
    assert.deepEqual(labels(completePromptCell('', 0, 0)), ['template']);
    const src = 'template: pivot-frame.cot/v2\nAmong frames {{fr';
    const vars = completePromptCell(src, 1, 'Among frames {{fr'.length, defined);
    assert.deepEqual(labels(vars), ['expression', 'frameCount', 'frameIds']);
    assert.equal(vars[0].insertText, 'expression}}');
    assert.equal(vars[0].replaceFrom, 'Among frames {{'.length);
    assert.deepEqual(completePromptCell('template: pivot-frame.cot\ntemplate: ', 1, 10), [], 'a later "template:" line is template text');
  });
});

suite('Insert Prompt Cell, word wrap, new cell language', () => {
  test('the new cell starts with the template line and the default text of its built-in', async () => {
    const text = readFileSync(path.join(root, 'prompts', 'pivot-box.cot.md'), 'utf8').replace(/\n+$/, '');
    assert.equal(await newPromptCellSource('pivot-box.cot', root), `template: pivot-box.cot\n${text}\n`);
    assert.equal(await newPromptCellSource('pivot-box.cot/v2', root), `template: pivot-box.cot/v2\n${text}\n`);
    await assert.rejects(newPromptCellSource('pivot-box.v2', root), /Unknown prompt template "pivot-box\.v2"/);
  });

  test('package.json: the command in the notebook toolbar and cell menu, word wrap on in the prompt language', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.contributes.configurationDefaults[`[${PROMPT_LANGUAGE}]`], { 'editor.wordWrap': 'on' });
    assert.ok(pkg.contributes.languages.some((l: { id: string }) => l.id === PROMPT_LANGUAGE));
    for (const menu of ['notebook/toolbar', 'notebook/cell/title']) {
      assert.ok(pkg.contributes.menus[menu].some((m: { command: string; when: string }) => m.command === 'alref.insertPromptCell' && m.when === 'notebookType == alref-notebook'), menu);
    }
  });

  test('an empty code cell added in the prompt language becomes a stage cell; others keep theirs', () => {
    assert.equal(languageForAddedCell({ language: PROMPT_LANGUAGE, source: '' }), STAGE_LANGUAGE);
    assert.equal(languageForAddedCell({ language: PROMPT_LANGUAGE, source: 'template: lbru.cot\nx' }), undefined);
    assert.equal(languageForAddedCell({ language: STAGE_LANGUAGE, source: '' }), undefined);
    assert.equal(languageForAddedCell({ language: 'markdown', source: '' }), undefined);
  });
});
