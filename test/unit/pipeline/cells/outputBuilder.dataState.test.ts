/**
 * Data and state: pure parts of the fixes (failed runs keep earlier outputs, traces are
 * closed when a run stops, stale inputs are said at the top of the outputs, prompt changes make
 * results stale, the experiment record's models / prompts / LLM models, unknown kinds keep their id,
 * missing paths are diagnosed before a run).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MIME } from '../../../../src/common/mime';
import type { ReasoningTracePayload } from '../../../../src/common/payloads';
import { CellOutputBuilder, NOTICE_METADATA_KEY, TRACE_MODE_KEY, keepPreviousOutputs, noticeText } from '../../../../src/pipeline/cells/outputBuilder';
import { sameOutputItems } from '../../../../src/pipeline/cells/outputSync';
import { parseStageCell } from '../../../../src/pipeline/cells/parse';
import { missingPathDiagnostics } from '../../../../src/pipeline/cells/pathChecks';
import { buildExperimentRecord, modelChecksums } from '../../../../src/pipeline/cells/record';
import { staleInputsNotice } from '../../../../src/pipeline/cells/runCell';
import { ERROR_MIME, STDERR_MIME, type OutputModel } from '../../../../src/pipeline/format';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { NotebookSession, changedPrompt } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import type { StageKind, StageResult } from '../../../../src/pipeline/types';

const enc = new TextEncoder();
const dec = new TextDecoder();

function md(text: string, metadata?: Record<string, unknown>): OutputModel {
  return metadata ? { items: [{ mime: 'text/markdown', data: enc.encode(text) }], metadata } : { items: [{ mime: 'text/markdown', data: enc.encode(text) }] };
}

function traces(outputs: OutputModel[]): ReasoningTracePayload[] {
  return outputs.flatMap((o) => o.items.filter((i) => i.mime === MIME.reasoningTrace).map((i) => JSON.parse(dec.decode(i.data)) as ReasoningTracePayload));
}

function result(cellId: string, kind: StageKind, upstream: string[], data: unknown): StageResult {
  return { kind, cellId, inputHash: `h-${cellId}`, upstream, data, finishedAt: 0 };
}

suite('data and state: outputs of failed and stopped runs', () => {
  test('a failed run keeps the previous outputs under its error and a note; a second failure does not stack notes', () => {
    const previous = [md('answer of the last good run'), md('its table')];
    const b = new CellOutputBuilder();
    b.apply({ type: 'trace', streamId: 's1', title: 'Clip 1', delta: 'half a rep' });
    b.apply({ type: 'warning', message: 'clip 1: retrying' });
    b.error('PipelineError', 'Cell 3 (id "pf"): the server refused the key\nmore detail');
    b.finish('failed');
    const kept = keepPreviousOutputs(b.outputs(), previous, 'Cell 3 (id "pf"): the server refused the key\nmore detail');
    assert.deepEqual(kept.map((o) => o.items[0].mime), [STDERR_MIME, ERROR_MIME, 'text/markdown', 'text/markdown', 'text/markdown']);
    const note = noticeText(kept[2], 'previous-run');
    assert.ok(note && /Previous run's outputs.*this run failed: Cell 3 \(id "pf"\): the server refused the key\)/.test(note), note);
    assert.ok(!note.includes('more detail'), 'one line of the error');
    assert.deepEqual(kept.slice(3), previous);
    // Failing again: the older outputs stay, under the new error and one note.
    const again = keepPreviousOutputs([{ items: [{ mime: ERROR_MIME, data: enc.encode('{"name":"E","message":"second"}') }] }], kept, 'second');
    assert.equal(again.filter((o) => o.metadata?.[NOTICE_METADATA_KEY] === 'previous-run').length, 1);
    assert.deepEqual(again.slice(2), previous);
    assert.match(noticeText(again[1], 'previous-run') ?? '', /this run failed: second/);
  });

  test('a cell that fails twice shows only the second failure, not the first one as "Previous run\'s outputs"', () => {
    const fail = (message: string): OutputModel[] => {
      const b = new CellOutputBuilder();
      b.apply({ type: 'trace', streamId: 's1', title: 'Clip 1', delta: `half a reply (${message})` });
      b.error('PipelineError', message);
      b.finish('failed');
      return b.outputs();
    };
    const first = keepPreviousOutputs(fail('first'), [], 'first');
    assert.deepEqual(first.map((o) => o.items[0].mime), [MIME.reasoningTrace, ERROR_MIME]);
    const second = keepPreviousOutputs(fail('second'), first, 'second');
    assert.equal(second.filter((o) => o.metadata?.[NOTICE_METADATA_KEY] === 'previous-run').length, 0, 'no note over a failed run');
    assert.deepEqual(second.map((o) => o.items[0].mime), [MIME.reasoningTrace, ERROR_MIME]);
    assert.ok(!second.some((o) => o.items.some((i) => dec.decode(i.data).includes('first'))), 'nothing of the first failure is kept');
  });

  test('without previous outputs a failed run shows its own outputs, traces closed (never left "streaming")', () => {
    const b = new CellOutputBuilder();
    b.apply({ type: 'trace', streamId: 's1', title: 'Clip 1', delta: '' });
    b.apply({ type: 'trace', streamId: 's2', title: 'Clip 2', delta: 'done [2]', final: { answer: '[2]', valid: true } });
    b.error('PipelineError', 'boom');
    b.finish('failed');
    const out = keepPreviousOutputs(b.outputs(), [], 'boom');
    const t = traces(out);
    assert.deepEqual(t.map((p) => [p.streamId, p.done, p.valid, p.answer]), [['s1', true, false, undefined], ['s2', true, true, '[2]']]);
    assert.match(t[0].note ?? '', /stopped: the run failed before this reply finished/);
    const c = new CellOutputBuilder();
    c.apply({ type: 'trace', streamId: 's1', delta: 'part' });
    c.finish('cancelled');
    assert.match(traces(c.outputs())[0].note ?? '', /the run was cancelled/);
    const ok = new CellOutputBuilder();
    ok.apply({ type: 'trace', streamId: 's1', delta: 'part' });
    ok.finish('ok');
    assert.equal(traces(ok.outputs())[0].done, false, 'a successful run leaves traces as the stage closed them');
  });

  test('the LLM mode is on each trace output (metadata), and the items stay byte-identical across modes', () => {
    const run = (mode: 'record' | 'replay'): OutputModel[] => {
      const b = new CellOutputBuilder(undefined, { llmMode: mode });
      b.apply({ type: 'trace', streamId: 's', title: 'Clip 1', delta: 'x [1]', final: { answer: '[1]', valid: true } });
      return b.outputs();
    };
    const [rec, rep] = [run('record'), run('replay')];
    assert.equal(rec[0].metadata?.[TRACE_MODE_KEY], 'record');
    assert.equal(rep[0].metadata?.[TRACE_MODE_KEY], 'replay');
    assert.ok(sameOutputItems(rec[0].items, rep[0].items));
  });

  test('a notice goes first and replaces an earlier one of the same slot', () => {
    const b = new CellOutputBuilder();
    b.markdown('m', 'body');
    b.notice('stale-inputs', 'first');
    b.notice('stale-inputs', 'second');
    const outs = b.outputs();
    assert.equal(outs.length, 2);
    assert.equal(noticeText(outs[0], 'stale-inputs'), 'second');
    assert.match(staleInputsNotice(['upstream "pf" (via "pb") was re-run with a different result']), /^\*\*Warning: this cell ran on stale inputs\.\*\* Upstream "pf"/);
  });

  test('sameOutputItems compares MIME types and bytes in order', () => {
    const a = [{ mime: 'a', data: enc.encode('x') }];
    assert.ok(sameOutputItems(a, [{ mime: 'a', data: enc.encode('x') }]));
    assert.ok(!sameOutputItems(a, [{ mime: 'a', data: enc.encode('y') }]));
    assert.ok(!sameOutputItems(a, [{ mime: 'b', data: enc.encode('x') }]));
    assert.ok(!sameOutputItems(a, []));
  });
});

suite('data and state: prompt changes make results stale', () => {
  const text = 'Pick the clearest frame of {{frameIds}}.';
  const fromCell = { prompt: { name: 'pivot-frame.cot', source: 'cell', templateHash: sha256(text) } };
  const fromFile = { prompt: { name: 'pivot-frame.cot', source: 'file', templateHash: 'abc' } };

  test('changedPrompt: an edited or removed prompt cell, or a new override of a default template', () => {
    assert.equal(changedPrompt(result('pf', 'pivot-frame', [], fromCell), { 'pivot-frame.cot': text }), undefined);
    assert.equal(changedPrompt(result('pf', 'pivot-frame', [], fromCell), { 'pivot-frame.cot': `${text} Think.` }), 'pivot-frame.cot');
    assert.equal(changedPrompt(result('pf', 'pivot-frame', [], fromCell), {}), 'pivot-frame.cot');
    assert.equal(changedPrompt(result('pf', 'pivot-frame', [], fromFile), {}), undefined);
    assert.equal(changedPrompt(result('pf', 'pivot-frame', [], fromFile), { 'pivot-frame.cot': text }), 'pivot-frame.cot');
    assert.equal(changedPrompt(result('pf', 'pivot-frame', [], fromFile), { 'pivot-box.cot': text }), undefined);
    assert.equal(changedPrompt(result('v', 'video', [], { frames: 3 }), { 'pivot-frame.cot': text }), undefined);
  });

  test('the cell that used the prompt and every cell computed from it are stale, with the reason', () => {
    const s = new NotebookSession();
    s.put(result('vid', 'video', [], {}));
    s.put(result('pf', 'pivot-frame', ['vid'], fromFile));
    s.put(result('pb', 'pivot-box', ['pf'], {}));
    s.put(result('prop', 'propagate', ['pb'], {}));
    assert.equal(s.staleness('prop', undefined, {}).stale, false);
    const overrides = { 'pivot-frame.cot': text };
    const pf = s.staleness('pf', undefined, overrides);
    assert.deepEqual([pf.stale, pf.changedPrompts, pf.reasons], [true, ['pivot-frame.cot'], ['prompt "pivot-frame.cot" changed since the cell ran']]);
    const prop = s.staleness('prop', undefined, overrides);
    assert.deepEqual([prop.stale, prop.changedPrompts], [true, ['pivot-frame.cot']]);
    assert.match(prop.reasons[0], /prompt "pivot-frame.cot" changed since upstream "pf" used it/);
    assert.equal(s.staleness('vid', undefined, overrides).stale, false);
    // Without overrides passed (callers that do not know the prompts), nothing changes.
    assert.equal(s.staleness('pf').stale, false);
  });
});

suite('data and state: an upstream cell edited since it ran', () => {
  test('with the current requests given, a cell computed from an edited (not re-run) cell is stale', () => {
    const s = new NotebookSession();
    const pbReq = { kind: 'pivot-box' as const, cellId: 'pb', params: { boxThreshold: 0.3 }, uses: {} };
    s.put(result('pb', 'pivot-box', [], {}), pbReq);
    s.put(result('prop', 'propagate', ['pb'], {}), { kind: 'propagate', cellId: 'prop', params: {}, uses: {} });
    const now = (id: string) => (id === 'pb' ? { ...pbReq, params: { boxThreshold: 0.5 } } : undefined);
    assert.equal(s.staleness('prop').stale, false);
    const st = s.staleness('prop', undefined, undefined, now);
    assert.deepEqual([st.stale, st.changedUpstream, st.reasons], [true, ['pb'], ['upstream "pb" was edited since it ran']]);
    assert.equal(s.staleness('prop', undefined, undefined, (id) => (id === 'pb' ? pbReq : undefined)).stale, false);
  });
});

suite('data and state: the experiment record', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'alref-record-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  test('model files used get their sha256 (cached while unchanged); requested and reported LLM models per cell; a failed prompt cell leaves no hash', async () => {
    const enc1 = path.join(dir, 'encoder.onnx');
    writeFileSync(enc1, 'encoder bytes');
    const cache = new Map<string, string>();
    const used = [{ modelId: 'sam2.1-hiera-tiny-video', key: 'encoder', file: enc1 }];
    const sums = await modelChecksums(used, cache);
    assert.deepEqual(sums, { 'sam2.1-hiera-tiny-video/encoder': sha256('encoder bytes') });
    assert.equal(cache.size, 1);
    // A sentinel in the cache comes back as the file's hash: the unchanged file was not read again.
    const [cacheKey] = [...cache.keys()];
    cache.set(cacheKey, 'sentinel');
    assert.deepEqual(await modelChecksums(used, cache), { 'sam2.1-hiera-tiny-video/encoder': 'sentinel' }, 'an unchanged file is not hashed again');
    // A changed file (size or mtime) is hashed again.
    writeFileSync(enc1, 'other encoder bytes');
    assert.deepEqual(await modelChecksums(used, cache), { 'sam2.1-hiera-tiny-video/encoder': sha256('other encoder bytes') });

    const s = new NotebookSession();
    s.put(result('pf', 'pivot-frame', [], { prompt: { name: 'pivot-frame.cot', source: 'file', templateHash: 'tpl' } }), undefined, { llm: { requested: 'gpt-4o', reported: ['gpt-4o-2024-08-06'] } });
    s.put(result('prop', 'propagate', [], {}));
    const record = buildExperimentRecord({
      version: '1.0.0',
      settings: defaultSettings(),
      session: s,
      promptOverrides: { 'pivot-box.cot': 'ok text' },
      failedPrompts: ['lbru.cot'],
      modelChecksums: sums,
      previous: { extensionVersion: '0.9', settings: {}, models: {}, prompts: { 'lbru.cot': 'old' }, cells: {} },
    });
    assert.deepEqual(record.models, sums);
    assert.deepEqual(record.llm, { pf: { requested: 'gpt-4o', reported: ['gpt-4o-2024-08-06'] } });
    assert.deepEqual(record.prompts, { 'pivot-frame.cot': 'tpl', 'pivot-box.cot': sha256('ok text') });
    assert.equal(s.llmModels('prop'), undefined);
  });
});

suite('editing: unknown kinds keep their id; missing paths are diagnosed before a run', () => {
  test('a cell of unknown (or missing) kind keeps the id it declares', () => {
    const r = parseStageCell('stage: pivot-fram\nid: pf\n', { cellId: 'cell-7', cellIndex: 7 });
    assert.ok(!r.ok);
    assert.equal(r.cellId, 'pf');
    assert.match(r.diagnostics[0].message, /Did you mean "pivot-frame"/);
    const missing = parseStageCell('id: pf2\nsource: x.mp4\n', { cellId: 'cell-8', cellIndex: 8 });
    assert.ok(!missing.ok && missing.cellId === 'pf2');
    const bad = parseStageCell('stage: nope\nid: "bad id"\n', { cellId: 'cell-9', cellIndex: 9 });
    assert.ok(!bad.ok && bad.cellId === 'cell-9');
  });

  test('a video source or lbru audio that does not exist: an error on its line naming the resolved path', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alref-paths-'));
    try {
      writeFileSync(path.join(dir, 'here.mp4'), '');
      const text = 'stage: video\nid: video\nsource: ../clips/missing.mp4\nfps: 8\n';
      const d = missingPathDiagnostics(text, 'video', { source: '../clips/missing.mp4' }, dir);
      assert.equal(d.length, 1);
      assert.equal(d[0].field, 'source');
      assert.equal(d[0].severity, 'error');
      assert.deepEqual(d[0].range.start, { line: 2, character: 0 });
      assert.ok(d[0].message.includes(path.resolve(dir, '../clips/missing.mp4')), d[0].message);
      assert.deepEqual(missingPathDiagnostics('stage: video\nsource: here.mp4\n', 'video', { source: 'here.mp4' }, dir), []);
      assert.equal(missingPathDiagnostics('stage: lbru\naudio: bark.wav\n', 'lbru', { audio: 'bark.wav' }, dir)[0].range.start.line, 1);
      assert.deepEqual(missingPathDiagnostics('stage: reference\n', 'reference', { expression: 'x' }, dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
