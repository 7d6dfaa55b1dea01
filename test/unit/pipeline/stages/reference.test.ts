import assert from 'node:assert/strict';
import type { ReferenceData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import { collect, makeContext } from '../../../tooling/stageContext';

const ctx = () => makeContext({ runDir: '/nonexistent' });
const run = (params: Record<string, unknown>) => collect({ kind: 'reference', cellId: 'ref', params, uses: {} }, ctx());

suite('reference stage', () => {
  test('one expression becomes object 1, whitespace normalised', async () => {
    const { result, events } = await run({ expression: '  the black   car\n driving ' });
    assert.deepEqual(result.data as ReferenceData, { source: 'text', targets: [{ objectId: 1, text: 'the black car driving' }] });
    assert.ok(events.some((e) => e.type === 'markdown'));
  });

  test('several expressions get ids 1, 2, ...; the input hash depends on the text', async () => {
    const a = await run({ expressions: ['a dog', 'a man'] });
    assert.deepEqual((a.result.data as ReferenceData).targets.map((t) => [t.objectId, t.text]), [[1, 'a dog'], [2, 'a man']]);
    const b = await run({ expressions: ['a dog', 'a woman'] });
    assert.notEqual(a.result.inputHash, b.result.inputHash);
  });

  for (const [params, field] of [[{ expression: '   ' }, 'expression'], [{}, 'expression'], [{ expressions: ['ok', ''] }, 'expressions[1]']] as const) {
    test(`${JSON.stringify(params)} is an error on field ${field}`, async () => {
      await assert.rejects(run(params), (err: unknown) => err instanceof PipelineError && err.kind === 'invalid-input' && err.field === field && err.cellId === 'ref');
    });
  }
});
