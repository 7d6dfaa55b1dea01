import * as assert from 'node:assert/strict';
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { evaluateDavisSequence, summarizeDavis } from '../../../../src/pipeline/metrics/davisSequence';
import { davisStatistics, fMeasure, jaccard } from '../../../../src/pipeline/metrics/maskMetrics';
import { readLabelPng, nonZero, type LabelImage } from '../../../../src/pipeline/masks/labelPng';
import { SAMPLES } from '../../../tooling/media';

const CAR = path.join(SAMPLES, 'davis-car-shadow/Annotations');

function labels(w: number, h: number, boxes: Array<[number, number, number, number, number]>): LabelImage {
  const data = new Uint8Array(w * h);
  for (const [id, x0, y0, x1, y1] of boxes) {
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        data[y * w + x] = id;
      }
    }
  }
  return { width: w, height: h, data, indexed: true };
}

suite('metrics/davisSequence: sequence protocols', () => {
  test('semi-supervised on car-shadow: first and last frames dropped, per-frame values are J/F of each frame', async () => {
    const names = readdirSync(CAR).filter((n) => n.endsWith('.png')).sort();
    assert.equal(names.length, 40);
    const gt = await Promise.all(names.map((n) => readLabelPng(path.join(CAR, n))));
    // binary 0/255 ground truth read as DAVIS object ids: turn 255 into object 1
    const ids = gt.map((g) => ({ ...g, data: nonZero(g.data) }));
    // prediction = ground truth of the next frame (the last frame predicts itself)
    const pred = ids.map((_, t) => ids[Math.min(t + 1, ids.length - 1)]);
    const frameIds = names.map((n) => n.slice(0, -4));
    const r = evaluateDavisSequence({ sequence: 'car-shadow', frameIds, gt: ids, pred, task: 'semi-supervised' });
    assert.equal(r.frameIds.length, 38);
    assert.equal(r.frameIds[0], '00001');
    assert.equal(r.objects.length, 1);
    const o = r.objects[0];
    for (let k = 0; k < 38; k++) {
      const t = k + 1;
      assert.ok(Math.abs(o.perFrameJ[k] - jaccard(pred[t].data, ids[t].data)) < 1e-12);
      assert.ok(Math.abs(o.perFrameF[k] - fMeasure(pred[t].data, ids[t].data, 854, 480).f) < 1e-12);
    }
    assert.deepEqual(o.j, davisStatistics(o.perFrameJ));
    const s = summarizeDavis([r]);
    assert.ok(Math.abs(s.jf - (o.j.mean + o.f.mean) / 2) < 1e-12);
    assert.ok(s.jMean > 0.8 && s.jMean < 1);
  });

  test('unsupervised: Hungarian matching finds swapped ids, extra proposals are unmatched, void is ignored', () => {
    const w = 40;
    const h = 30;
    const gt: LabelImage[] = [];
    const pred: LabelImage[] = [];
    for (let t = 0; t < 5; t++) {
      const g = labels(w, h, [[1, 2 + t, 2, 12 + t, 12], [2, 20, 10 + t, 32, 22 + t]]);
      g.data[0] = 255; // a void pixel
      gt.push(g);
      // object 1 predicted as id 3, object 2 as id 1, and a spurious id 2 elsewhere
      const p = labels(w, h, [[3, 2 + t, 2, 12 + t, 12], [1, 20, 10 + t, 32, 22 + t], [2, 0, 25, 5, 30]]);
      p.data[0] = 3; // over the void pixel: ignored
      pred.push(p);
    }
    const frameIds = ['0', '1', '2', '3', '4'];
    const r = evaluateDavisSequence({ sequence: 's', frameIds, gt, pred, task: 'unsupervised' });
    assert.equal(r.objects.length, 2);
    const byGt = new Map(r.objects.map((o) => [o.gtObjectId, o]));
    assert.equal(byGt.get(1)!.predObjectId, 3);
    assert.equal(byGt.get(2)!.predObjectId, 1);
    for (const o of r.objects) {
      assert.equal(o.j.mean, 1);
      assert.equal(o.f.mean, 1);
    }
    // rows come out ordered by prediction id, as the toolkit's linear_sum_assignment returns them
    assert.deepEqual(r.objects.map((o) => o.predObjectId), [1, 3]);
  });

  test('unsupervised with fewer proposals than objects pads with empty masks; missing frames score 0', () => {
    const w = 20;
    const h = 20;
    const gt = [0, 1, 2].map(() => labels(w, h, [[1, 1, 1, 8, 8], [2, 10, 10, 18, 18]]));
    const pred: Array<LabelImage | null> = [labels(w, h, [[1, 10, 10, 18, 18]]), null, labels(w, h, [[1, 10, 10, 18, 18]])];
    const r = evaluateDavisSequence({ sequence: 'p', frameIds: ['a', 'b', 'c'], gt, pred, task: 'unsupervised' });
    assert.equal(r.objects.length, 2);
    const o2 = r.objects.find((o) => o.gtObjectId === 2)!;
    assert.deepEqual(o2.perFrameJ, [1, 0, 1]);
    const o1 = r.objects.find((o) => o.gtObjectId === 1)!;
    assert.equal(o1.predObjectId, null);
    assert.deepEqual(o1.perFrameJ, [0, 0, 0]);
    assert.ok(r.warnings.some((m) => m.includes('missing')));
  });

  test('semi-supervised: ids above the object count are reported and ignored', () => {
    const gt = [0, 1, 2].map(() => labels(10, 10, [[1, 0, 0, 5, 5]]));
    const pred = [0, 1, 2].map(() => labels(10, 10, [[1, 0, 0, 5, 5], [4, 6, 6, 9, 9]]));
    const r = evaluateDavisSequence({ sequence: 'x', frameIds: ['0', '1', '2'], gt, pred, task: 'semi-supervised' });
    assert.deepEqual(r.objects[0].perFrameJ, [1]);
    assert.ok(r.warnings.some((m) => m.includes('object id 4')));
  });
});
