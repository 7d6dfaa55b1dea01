import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../../../../src/pipeline/errors';
import { describePromptCell } from '../../../../src/pipeline/llm/promptCell';
import { TEMPLATE_VARIABLES, findVariables, loadTemplate, renderTemplate, templateNames } from '../../../../src/pipeline/llm/templates';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { RESOURCES } from '../../../tooling/stageContext';

const isError = (re: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof PipelineError, String(err));
  assert.equal(err.kind, 'invalid-input');
  assert.match(err.message, re);
  return true;
};

suite('prompt templates', () => {
  test('every known template has a file in prompts/, and every file is a known template using only its variables', async () => {
    const files = (await readdir(path.join(RESOURCES, 'prompts'))).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3)).sort();
    assert.deepEqual(files, [...templateNames()].sort());
    for (const name of templateNames()) {
      const t = await loadTemplate(name, { resourcesDir: RESOURCES });
      assert.equal(t.source, 'file');
      assert.equal(t.hash, sha256(await readFile(path.join(RESOURCES, 'prompts', `${name}.md`), 'utf8')));
      const used = new Set(findVariables(t.text).map((u) => u.name));
      assert.ok(used.size > 0, `${name} uses no variable`);
      for (const v of used) {
        assert.ok((TEMPLATE_VARIABLES[name] as readonly string[]).includes(v), `${name} uses {{${v}}}`);
      }
    }
  });

  test('the RVOS box template follows the five-step structure and asks for [k] or [-1]', async () => {
    const t = await loadTemplate('pivot-box.cot', { resourcesDir: RESOURCES });
    for (const step of ['1. Scene', '2. Boxes', '3. Syntax', '4. Choice', '5. Answer']) {
      assert.ok(t.text.includes(step), step);
    }
    assert.match(t.text, /\[-1\]/);
  });

  test('rendering fills every variable; the result hash is of the exact text', async () => {
    const t = await loadTemplate('pivot-frame.cot', { resourcesDir: RESOURCES });
    const r = renderTemplate(t, { expression: 'the black car', frameCount: 5, frameIds: '1, 2, 3, 4, 5' });
    assert.ok(r.text.includes('"the black car"'));
    assert.ok(r.text.includes('1, 2, 3, 4, 5'));
    assert.ok(!r.text.includes('{{'));
    assert.equal(r.hash, sha256(r.text));
    assert.equal(r.templateHash, t.hash);
  });

  test('a missing value is an error naming the template line', async () => {
    const t = await loadTemplate('pivot-frame.cot', { resourcesDir: RESOURCES });
    const line = t.text.split('\n').findIndex((l) => l.includes('{{expression}}')) + 1;
    assert.throws(() => renderTemplate(t, { frameCount: 5, frameIds: '1' }), isError(new RegExp(`pivot-frame\\.cot\\.md:${line}: variable \\{\\{expression\\}\\} has no value`)));
  });

  test('an override with an unknown variable is an error naming the prompt cell line', async () => {
    await assert.rejects(
      loadTemplate('pivot-box.cot', { resourcesDir: RESOURCES, overrides: { 'pivot-box.cot': 'Boxes:\n{{boxList}}\nAudio: {{audioLabels}}' } }),
      isError(/prompt cell "pivot-box\.cot", line 3 of the template text \(below the "template:" line\): unknown variable \{\{audioLabels\}\}/),
    );
  });

  test('describePromptCell validates the template name and the variables', () => {
    const info = describePromptCell('pivot-frame.cot', 'Pick among {{ frameIds }} for {{expression}}; {{frameIds}}', RESOURCES);
    assert.deepEqual(info.variables, ['frameIds', 'expression']);
    assert.equal(info.hash, sha256('Pick among {{ frameIds }} for {{expression}}; {{frameIds}}'));
    assert.throws(() => describePromptCell('pivot-frame.fancy', 'x', RESOURCES), isError(/Unknown prompt template "pivot-frame\.fancy"\. Known templates: .*pivot-frame\.cot/));
    assert.throws(() => describePromptCell('lbru.cot', 'ok {{audioLabels}}\n\n{{expression}}', RESOURCES), isError(/line 3 of the template text \(below the "template:" line\): unknown variable \{\{expression\}\}/));
    assert.throws(() => describePromptCell('lbru.cot', '{{ 12bad }}', RESOURCES), isError(/unknown variable/));
  });

  test('an override may leave variables out; extra supplied values are fine', async () => {
    const t = await loadTemplate('pivot-frame.cot', { resourcesDir: RESOURCES, overrides: { 'pivot-frame.cot': 'Just answer [1].' } });
    assert.equal(t.source, 'cell');
    assert.equal(renderTemplate(t, { expression: 'x', frameCount: 5, frameIds: '1' }).text, 'Just answer [1].');
  });
});
