import assert from 'node:assert/strict';
import path from 'node:path';
import { completeStageCell } from '../../../../src/pipeline/cells/complete';
import { applyNotebookSettings, mergeSettings, parseSetPairs, schemaTypeof, settingPaths } from '../../../../src/pipeline/cells/settingsMerge';
import { resolveArtifactPath, artifactMime } from '../../../../src/pipeline/cells/artifactPath';
import { buildExperimentRecord } from '../../../../src/pipeline/cells/record';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { sha256 } from '../../../../src/pipeline/run/hash';

suite('cells: completions from the stage schemas', () => {
  test('stage kinds after "stage:", fields of the kind, enum values, uses keys and cell ids', () => {
    assert.ok(completeStageCell('stage: ', 0, 7).some((c) => c.label === 'pivot-frame' && c.kind === 'stage'));
    const fields = completeStageCell('stage: video\nsource: a.mp4\n', 2, 0).map((c) => c.label);
    assert.ok(fields.includes('interval') && fields.includes('preset') && fields.includes('uses'));
    assert.ok(!fields.includes('source') && !fields.includes('stage'), 'fields already present are not offered');
    assert.deepEqual(completeStageCell('stage: video\nmode: ', 1, 6).map((c) => c.label), ['rvos', 'avs']);
    const usesKeys = completeStageCell('stage: pivot-frame\nuses:\n  ', 2, 2).map((c) => c.label);
    assert.ok(usesKeys.includes('video') && usesKeys.includes('reference'));
    assert.deepEqual(completeStageCell('stage: pivot-frame\nuses:\n  video: ', 2, 9, [{ id: 'vid', kind: 'video' }, { id: 'r', kind: 'reference' }]).map((c) => c.label), ['vid']);
    assert.deepEqual(completeStageCell('stage: video\nsource: a', 1, 9), []);
  });
});

suite('cells: settings merge, --set pairs, artifact paths, experiment record', () => {
  test('the type of a setting whose default is null comes from its package.json schema', () => {
    const s = defaultSettings();
    const nullPaths = settingPaths(s).filter((p) => p.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], s) === null);
    assert.ok(nullPaths.includes('llm.temperature') && nullPaths.includes('llm.maxTokens'));
    for (const p of nullPaths) {
      assert.equal(schemaTypeof(p), 'number', p);
    }
    assert.equal(schemaTypeof('llm.mode'), 'string');
    assert.equal(schemaTypeof('no.such.setting'), undefined);
    const bad: string[] = [];
    const merged = mergeSettings(s, (p) => ({ 'llm.temperature': '0.5', 'llm.maxTokens': 12 })[p], (p, _v, expected) => bad.push(`${p}: ${expected}`));
    assert.deepEqual([merged.llm.temperature, merged.llm.maxTokens, bad], [null, 12, ['llm.temperature: number']]);
  });

  test('configuration values deep-merge by field path; wrong types and secrets are refused', () => {
    const cfg: Record<string, unknown> = { 'llm.baseUrl': 'http://127.0.0.1:9', 'llm.models': { pivotBox: 'gpt-x' }, 'llm.temperature': 0.2, 'models.executionProvider': 'cuda', 'llm.maxTokens': 'lots', 'llm.apiKey': 'sk-secret', ffmpegPath: '/opt/ffmpeg', 'llm.prices': { m: { input: 1, output: 2 } } };
    const bad: string[] = [];
    const s = mergeSettings(defaultSettings(), (p) => cfg[p], (p) => bad.push(p));
    assert.equal(s.llm.baseUrl, 'http://127.0.0.1:9');
    assert.deepEqual(s.llm.models, { pivotFrame: 'gpt-4o', pivotBox: 'gpt-x', lbru: 'gpt-4o' });
    assert.equal(s.llm.temperature, 0.2);
    assert.equal(s.models.executionProvider, 'cuda');
    assert.equal(s.ffmpegPath, '/opt/ffmpeg');
    assert.equal(s.llm.maxTokens, null, 'no reply limit by default (reference code)');
    assert.deepEqual(s.llm.prices, { m: { input: 1, output: 2 } });
    assert.equal(s.llm.apiKey, undefined);
    assert.deepEqual(bad, ['llm.maxTokens']);
    const pairs = parseSetPairs(['llm.mode=replay', 'alref.llm.maxTokens=99', 'ffmpegPath=/a b/ffmpeg', 'llm.temperature=null']);
    const s2 = mergeSettings(defaultSettings(), (p) => pairs.get(p));
    assert.equal(s2.llm.mode, 'replay');
    assert.equal(s2.llm.maxTokens, 99);
    assert.equal(s2.ffmpegPath, '/a b/ffmpeg');
    assert.equal(s2.llm.temperature, null);
    assert.throws(() => parseSetPairs(['nokey']), /--set expects key=value/);
    assert.ok(settingPaths(defaultSettings()).includes('llm.models.pivotFrame'));
    assert.ok(!settingPaths(defaultSettings()).includes('llm.apiKey'));
  });

  test('artifact references stay inside the run folder', () => {
    const run = path.resolve('/tmp/nb.alref.runs');
    assert.equal(resolveArtifactPath(run, 'artifacts/ab/ab.jpg'), path.join(run, 'artifacts/ab/ab.jpg'));
    for (const bad of ['../secret.txt', 'artifacts/../../x', '/etc/passwd', '', '.', 'a\0b']) {
      assert.throws(() => resolveArtifactPath(run, bad), /run folder/, bad);
    }
    assert.equal(artifactMime('x/Y.JPG'), 'image/jpeg');
    assert.equal(artifactMime('x.bin'), 'application/octet-stream');
  });

  test('the experiment record holds result settings, prompt hashes and cell input hashes, never the key or endpoint', () => {
    const session = new NotebookSession();
    session.put({ kind: 'pivot-frame', cellId: 'pf', inputHash: 'h1', upstream: [], finishedAt: 0, data: { prompt: { name: 'pivot-frame.cot', source: 'file', templateHash: 'abc' }, models: { 'sam2.1-tiny': 'f00' } } });
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, apiKey: 'sk-secret', baseUrl: 'http://secret-host' } });
    const rec = buildExperimentRecord({ version: '0.1.0', settings, session, promptOverrides: { 'pivot-box.cot': 'text' } });
    assert.equal(rec.extensionVersion, '0.1.0');
    assert.deepEqual(rec.cells, { pf: 'h1' });
    assert.deepEqual(rec.prompts, { 'pivot-frame.cot': 'abc', 'pivot-box.cot': sha256('text') });
    assert.deepEqual(rec.models, { 'sam2.1-tiny': 'f00' });
    const text = JSON.stringify(rec);
    assert.ok(!text.includes('sk-secret') && !text.includes('secret-host'));
  });
});

suite('cells: what a notebook may choose', () => {
  test('metadata.alref.llmMode sets the LLM mode; nothing else and no bad values', () => {
    const base = defaultSettings();
    assert.equal(applyNotebookSettings(base, { alref: { formatVersion: 1, llmMode: 'replay' } }).llm.mode, 'replay');
    assert.equal(applyNotebookSettings(base, { alref: { formatVersion: 1, llmMode: 'bogus' } }).llm.mode, 'live');
    assert.equal(applyNotebookSettings(base, { alref: { llmMode: 'record', baseUrl: 'http://evil' } }).llm.baseUrl, '');
    assert.equal(applyNotebookSettings(base, undefined), base);
    assert.equal(base.llm.mode, 'live', 'the input settings are not changed');
  });
});
