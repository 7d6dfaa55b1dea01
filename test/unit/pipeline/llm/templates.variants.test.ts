/**
 * Named prompt variants (`template: pivot-frame.cot/v2` in a prompt cell, chosen by a stage cell's
 * `template`): they live beside the built-in template, keep their base's variables, each has its
 * hash in the experiment record, and a change of one marks stale only the cells that use it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { collectPromptOverrides, currentRequests, knownCells } from '../../../../src/pipeline/cells/notebook';
import type { CellLike } from '../../../../src/pipeline/cells/notebook';
import { parsePromptCell } from '../../../../src/pipeline/cells/parse';
import { buildExperimentRecord } from '../../../../src/pipeline/cells/record';
import { runCell } from '../../../../src/pipeline/cells/runCell';
import { PipelineError } from '../../../../src/pipeline/errors';
import { describePromptCell } from '../../../../src/pipeline/llm/promptCell';
import { baseTemplate, loadTemplate, renderTemplate, stageTemplateProblem } from '../../../../src/pipeline/llm/templates';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { createServices } from '../../../../src/pipeline/services';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { templateParam } from '../../../../src/pipeline/stages/shared';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { DAVIS_FRAMES } from '../../../tooling/davisVideo';
import { RESOURCES } from '../../../tooling/stageContext';

const V2 = 'V2 MARKER: among frames {{frameIds}}, where is "{{expression}}" clearest? Answer [id].';

suite('prompt variants: <built-in>/<label> beside the built-in template', () => {
  test('a prompt cell may name a variant; its base is the built-in before the slash', () => {
    const r = parsePromptCell(`template: pivot-frame.cot/v2\n${V2}\n`);
    assert.ok(r.ok);
    assert.equal(r.name, 'pivot-frame.cot/v2');
    assert.equal(baseTemplate('pivot-frame.cot/v2'), 'pivot-frame.cot');
    assert.equal(baseTemplate('pivot-frame.cot'), 'pivot-frame.cot');
    assert.equal(baseTemplate('pivot-frame.v2'), undefined);
    assert.equal(baseTemplate('nope.cot/v2'), undefined);
    const info = describePromptCell('pivot-frame.cot/v2', V2, RESOURCES);
    assert.equal(info.base, 'pivot-frame.cot');
    assert.deepEqual(info.variables, ['frameIds', 'expression']);
  });

  test("a variant has its base's variables, checked", () => {
    assert.throws(() => describePromptCell('pivot-frame.cot/v2', 'Boxes {{boxList}}', RESOURCES),
      (err: unknown) => err instanceof PipelineError && /unknown variable \{\{boxList\}\} in template "pivot-frame\.cot\/v2"/.test(err.message));
    assert.throws(() => describePromptCell('pivot-frame.v2', 'x', RESOURCES),
      (err: unknown) => err instanceof PipelineError && err.field === 'template' && /<template>\/<label>/.test(err.message));
  });

  test('a stage chooses a built-in or a defined variant of its own kind; anything else is refused by name', async () => {
    const overrides = { 'pivot-frame.cot/v2': V2 };
    assert.equal(templateParam(undefined, 'pivot-frame.cot', 'pivot-frame', overrides), 'pivot-frame.cot');
    assert.equal(templateParam('pivot-frame.cot/v2', 'pivot-frame.cot', 'pivot-frame', overrides), 'pivot-frame.cot/v2');
    assert.throws(() => templateParam('pivot-frame.cot/v3', 'pivot-frame.cot', 'pivot-frame', overrides),
      (err: unknown) => err instanceof PipelineError && err.field === 'template' && /No prompt cell of this notebook defines the template variant "pivot-frame\.cot\/v3"/.test(err.message));
    assert.match(stageTemplateProblem('pivot-box.cot/v2', 'pivot-frame', ['pivot-box.cot/v2']) ?? '', /is not a pivot-frame template\. Built-in: pivot-frame\.cot/);
    assert.equal(stageTemplateProblem('pivot-box.select', 'pivot-box', []), undefined);

    const variant = await loadTemplate('pivot-frame.cot/v2', { resourcesDir: RESOURCES, overrides });
    assert.deepEqual([variant.name, variant.base, variant.source, variant.hash], ['pivot-frame.cot/v2', 'pivot-frame.cot', 'cell', sha256(V2)]);
    const builtIn = await loadTemplate('pivot-frame.cot', { resourcesDir: RESOURCES, overrides });
    assert.equal(builtIn.source, 'file', 'the built-in stays in use beside its variant');
    const rendered = renderTemplate(variant, { frameIds: '1, 2', expression: 'the car', frameCount: 2 });
    assert.equal(rendered.text, 'V2 MARKER: among frames 1, 2, where is "the car" clearest? Answer [id].');
    await assert.rejects(loadTemplate('pivot-frame.cot/v9', { resourcesDir: RESOURCES, overrides }), (err: unknown) => err instanceof PipelineError && err.field === 'template');
  });
});

suite('prompt variants through the cell runner (local server): record and staleness per variant', () => {
  let tmp: string;
  let server: OpenAiTestServer;
  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-variants-'));
    server = await OpenAiTestServer.start({ apiKey: 'sk-test' });
    server.setScript(() => ({ text: 'Sharpest in frame 2.\n[2]', chunkSize: 50 }));
  });
  suiteTeardown(async () => {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('two pivot-frame cells, one on the built-in and one on a variant: each sends its own prompt; each hash is recorded; a variant edit makes only its user stale', async () => {
    const cells: CellLike[] = [
      { id: 'vid', language: 'alref', source: `stage: video\nsource: ${DAVIS_FRAMES}\ninterval: 5\nmaxFrames: 10\nfilmstripFrames: 0\n` },
      { id: 'ref', language: 'alref', source: 'stage: reference\nexpression: the silver car\n' },
      { id: 'p2', language: 'alref-prompt', source: `template: pivot-frame.cot/v2\n${V2}\n` },
      { id: 'pf', language: 'alref', source: 'stage: pivot-frame\n' },
      { id: 'pf2', language: 'alref', source: 'stage: pivot-frame\ntemplate: pivot-frame.cot/v2\n' },
    ];
    const runDir = path.join(tmp, 'nb.alref.runs');
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode: 'live', timeoutMs: 5000 } });
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const services = createServices(settings, { runDir, resourcesDir: RESOURCES, userCacheDir: path.join(tmp, 'cache'), getSecret: async () => 'sk-test' });
    const host = { runDir, baseDir: tmp, resourcesDir: RESOURCES, settings, services, log };
    const session = new NotebookSession();
    const run = async (list: CellLike[], index: number) => {
      const out = await runCell({ cells: list, index, session, host, signal: new AbortController().signal });
      assert.equal(out.status, 'ok', `${out.cellId}: ${out.message ?? ''}`);
      return out;
    };
    await run(cells, 0);
    await run(cells, 1);
    const prompt = await run(cells, 2);
    assert.match(new TextDecoder().decode(prompt.outputs[0].items[0].data), /\*\*Prompt variant\*\* `pivot-frame\.cot\/v2` of `pivot-frame\.cot`/);
    const before = server.requests.length;
    await run(cells, 3);
    const builtInTexts = server.requests.slice(before).map((r) => r.text);
    assert.ok(builtInTexts.length > 0 && builtInTexts.every((t) => !t.includes('V2 MARKER')), 'the default cell sends the built-in template');
    const mid = server.requests.length;
    const pf2 = await run(cells, 4);
    const variantTexts = server.requests.slice(mid).map((r) => r.text);
    assert.ok(variantTexts.length > 0 && variantTexts.every((t) => t.includes('V2 MARKER') && t.includes('"the silver car"')), 'the variant cell sends the variant');
    assert.deepEqual((pf2.result?.data as { prompt: unknown }).prompt, { name: 'pivot-frame.cot/v2', source: 'cell', templateHash: sha256(`${V2}\n`) });

    const { overrides } = collectPromptOverrides(cells);
    const record = buildExperimentRecord({ version: '1', settings, session, promptOverrides: overrides });
    assert.equal(record.prompts['pivot-frame.cot/v2'], sha256(`${V2}\n`));
    assert.match(record.prompts['pivot-frame.cot'] ?? '', /^[0-9a-f]{64}$/, 'the built-in hash is recorded too');

    // Edit the variant (not re-run anything): only the cell that uses it is stale.
    const edited = cells.map((c) => (c.id === 'p2' ? { ...c, source: `template: pivot-frame.cot/v2\n${V2} Think first.\n` } : c));
    const known = knownCells(edited);
    const editedOverrides = collectPromptOverrides(edited).overrides;
    const stale = (id: string) => session.staleness(id, currentRequests(edited, known)(id), editedOverrides, currentRequests(edited, known));
    assert.deepEqual(stale('pf2').changedPrompts, ['pivot-frame.cot/v2']);
    assert.equal(stale('pf').stale, false, 'the cell on the built-in template stays fresh');
  });
});
