import assert from 'node:assert/strict';
import { deltaTone, formatDelta, formatValue } from '../../../../src/common/sweepFormat';
import { checkSweepDetailPayload, checkSweepMatrixPayload, inputOrder, nextDirection, sortIndices, variantOrder } from '../../../../src/renderers/sweepMatrix/model';
import { sweepFixture } from '../../../tooling/sweepFixture';

suite('sweep matrix: formatting, deltas and sorting', () => {
  test('values are formatted by unit; undefined values show a dash', () => {
    assert.equal(formatValue(0.875, 'ratio'), '87.5%');
    assert.equal(formatValue(1, 'ratio'), '100%');
    assert.equal(formatValue(1.5, 'count'), '1.5');
    assert.equal(formatValue(2, 'count'), '2');
    assert.equal(formatValue(12345.6, 'tokens'), '12,346');
    assert.equal(formatValue(0.01234, 'usd'), '$0.0123');
    assert.equal(formatValue(12.5, 'usd'), '$12.50');
    assert.equal(formatValue(850.4, 'ms'), '850 ms');
    assert.equal(formatValue(2400, 'ms'), '2.4 s');
    assert.equal(formatValue(null, 'ratio'), '–');
    assert.equal(formatValue(Number.NaN, 'count'), '–');
  });

  test('deltas are signed, ratios in percentage points', () => {
    assert.equal(formatDelta(0.032, 'ratio'), '+3.2 pp');
    assert.equal(formatDelta(-0.1, 'ratio'), '−10 pp');
    assert.equal(formatDelta(-300, 'ms'), '−300 ms');
    assert.equal(formatDelta(350, 'tokens'), '+350');
    assert.equal(formatDelta(0, 'usd'), '±0');
    assert.equal(formatDelta(null, 'usd'), '–');
  });

  test('a delta is better or worse by the metric direction', () => {
    assert.equal(deltaTone(0.1, 'higher'), 'better');
    assert.equal(deltaTone(-0.1, 'higher'), 'worse');
    assert.equal(deltaTone(-300, 'lower'), 'better');
    assert.equal(deltaTone(300, 'lower'), 'worse');
    assert.equal(deltaTone(0, 'lower'), 'same');
    assert.equal(deltaTone(null, 'higher'), 'none');
  });

  test('sorting puts the best first (or last), undefined values always last, ties in payload order', () => {
    const v = [0.5, null, 0.9, 0.5, 0.1];
    assert.deepEqual(sortIndices(v, 'higher', 'best'), [2, 0, 3, 4, 1]);
    assert.deepEqual(sortIndices(v, 'higher', 'worst'), [4, 0, 3, 2, 1]);
    assert.deepEqual(sortIndices(v, 'lower', 'best'), [4, 0, 3, 2, 1]);
    assert.deepEqual([nextDirection(undefined), nextDirection('best'), nextDirection('worst')], ['best', 'worst', undefined]);
  });

  test('variants sort by summary with the baseline kept first; inputs sort by one variant, failed cells last', () => {
    const { payload } = sweepFixture();
    const tokens = payload.metrics.find((m) => m.key === 'promptTokens')!;
    const iou = payload.metrics.find((m) => m.key === 'boxIoU')!;
    assert.deepEqual(variantOrder(payload, tokens, undefined), [0, 1, 2]);
    // Fewer tokens is better: cot-v2 (2160) before middle (2500); reversed: middle first; baseline stays.
    assert.deepEqual(variantOrder(payload, tokens, 'best'), [0, 1, 2]);
    assert.deepEqual(variantOrder(payload, tokens, 'worst'), [0, 2, 1]);
    assert.deepEqual(variantOrder({ ...payload, variants: payload.variants.map((v, i) => ({ ...v, baseline: i === 2 })) }, iou, 'best'), [2, 0, 1]);
    assert.deepEqual(inputOrder(payload, 2, tokens, 'worst'), [0, 1], 'the error cell sorts last either way');
    assert.deepEqual(inputOrder(payload, 2, tokens, 'best'), [0, 1]);
    assert.deepEqual(inputOrder(payload, 0, tokens, 'worst'), [1, 0]);
    assert.deepEqual(inputOrder(payload, 0, tokens, undefined), [0, 1]);
  });

  test('payload checks name what is wrong, including a newer version', () => {
    const { payload } = sweepFixture();
    assert.equal(checkSweepMatrixPayload(payload), undefined);
    assert.match(checkSweepMatrixPayload({ ...payload, version: 2 }) ?? '', /payload version 2; this extension reads version 1\. Update the extension/);
    assert.match(checkSweepMatrixPayload(null) ?? '', /no JSON payload/);
    assert.match(checkSweepMatrixPayload({ ...payload, metrics: [] }) ?? '', /no metric list/);
    assert.match(checkSweepMatrixPayload({ ...payload, cells: [payload.cells[0]] }) ?? '', /not 3 variants x 2 inputs/);
    assert.match(checkSweepMatrixPayload({ ...payload, summary: undefined }) ?? '', /no summary/);
    assert.match(checkSweepDetailPayload({ version: 1, objects: [{}] }) ?? '', /no objects with clips/);
    assert.match(checkSweepDetailPayload({ version: 3 }) ?? '', /version 3/);
  });
});
