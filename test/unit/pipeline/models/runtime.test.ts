/**
 * runGraph, the one choke point of every ONNX call (src/pipeline/models/runtime.ts), on a real tiny
 * onnxruntime session: a missing, unknown, mistyped or wrong-rank input is refused with the graph and
 * the input named, a failing run names the graph and the feeds' shapes, and observers see each run.
 */
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { PipelineError } from '../../../../src/pipeline/errors';
import { feedMismatches, observeGraphRuns, runGraph, type GraphRun } from '../../../../src/pipeline/models/runtime';
import { OnnxGraphBuilder } from '../../../tooling/onnxBuilder';

suite('models/runtime: runGraph checks the feeds against the graph and names it', () => {
  let session: ort.InferenceSession;
  const name = { modelId: 'tiny-model', graph: 'adder' };
  const f32 = (values: number[], dims = [values.length]) => new ort.Tensor('float32', Float32Array.from(values), dims);

  suiteSetup(async () => {
    // z [N] = x [N] + y [N], float32, N symbolic
    const g = new OnnxGraphBuilder('adder');
    const x = g.input('x', 'float32', ['n']);
    const y = g.input('y', 'float32', ['n']);
    g.output('z', g.op('Add', [x, y]), 'float32', ['n']);
    // fatal-only logging: the refused run below would print onnxruntime's own error line
    session = await ort.InferenceSession.create(g.build(), { logSeverityLevel: 4 });
  });
  suiteTeardown(async () => {
    await session.release();
  });

  const refused = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof PipelineError, String(err));
    assert.equal(err.kind, 'backend');
    assert.equal(err.stage, 'test');
    assert.equal(err.field, 'tiny-model');
    assert.match(err.message, /^Graph adder of "tiny-model" /);
    assert.match(err.message, pattern);
    return true;
  };

  test('the feeds fit: it runs, and observers see the run with its graph name', async () => {
    const seen: GraphRun[] = [];
    const stop = observeGraphRuns((r) => seen.push(r));
    try {
      const out = await runGraph(session, name, { x: f32([1, 2]), y: f32([10, 20]) }, 'test');
      assert.deepEqual(Array.from(out.z.data as Float32Array), [11, 22]);
    } finally {
      stop();
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0].modelId, 'tiny-model');
    assert.equal(seen[0].graph, 'adder');
    assert.ok(seen[0].ms >= 0);
    await runGraph(session, name, { x: f32([1]), y: f32([2]) }, 'test');
    assert.equal(seen.length, 1, 'a stopped observer sees nothing more');
  });

  test('a missing input is named, with the graph, and nothing runs', async () => {
    let runs = 0;
    const stop = observeGraphRuns(() => runs++);
    try {
      await assert.rejects(runGraph(session, name, { x: f32([1, 2]) }, 'test'), refused(/cannot run: input "y" is missing\.$/));
    } finally {
      stop();
    }
    assert.equal(runs, 0);
  });

  test('a mistyped input is named with both element types', async () => {
    await assert.rejects(
      runGraph(session, name, { x: f32([1, 2]), y: new ort.Tensor('int32', Int32Array.from([1, 2]), [2]) }, 'test'),
      refused(/input "y" is int32, the graph takes float32/),
    );
  });

  test('an input of the wrong rank and a name the graph does not take are named', async () => {
    await assert.rejects(runGraph(session, name, { x: f32([1, 2], [1, 2]), y: f32([1, 2]) }, 'test'), refused(/input "x" has rank 2 \[1,2\], the graph takes rank 1 \[n\]/));
    await assert.rejects(runGraph(session, name, { x: f32([1]), y: f32([1]), w: f32([1]) }, 'test'), refused(/input "w" is not an input of the graph \(it takes "x", "y"\)/));
  });

  test('a run onnxruntime refuses (sizes that do not broadcast) names the graph and the feeds\' shapes', async () => {
    await assert.rejects(runGraph(session, name, { x: f32([1, 2, 3]), y: f32([1, 2]) }, 'test'), refused(/failed on x float32\[3\], y float32\[2\]: /));
  });

  test('feedMismatches lists every problem at once', () => {
    const problems = feedMismatches(session, { y: new ort.Tensor('int64', BigInt64Array.from([1n]), [1]) });
    assert.deepEqual(problems, ['input "x" is missing', 'input "y" is int64, the graph takes float32']);
  });
});
