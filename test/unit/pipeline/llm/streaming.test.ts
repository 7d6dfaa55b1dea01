import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { StageEvent } from '../../../../src/pipeline/events';
import { addToTotals, EMPTY_TOTALS, promptMarkdown, runConcurrent } from '../../../../src/pipeline/llm/streaming';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function task(i: number, delays: number[]) {
  return async function* (): AsyncGenerator<StageEvent, number, void> {
    for (let k = 0; k < delays.length; k++) {
      await sleep(delays[k]);
      yield { type: 'trace', streamId: `s${i}`, delta: `${i}.${k} ` };
      yield { type: 'warning', message: `task ${i} step ${k}` };
    }
    yield { type: 'markdown', text: `done ${i}` };
    return i * 10;
  };
}

async function drain<T>(gen: AsyncGenerator<StageEvent, T, void>): Promise<{ events: StageEvent[]; result: T }> {
  const events: StageEvent[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      return { events, result: r.value };
    }
    events.push(r.value);
  }
}

suite('concurrent LLM tasks', () => {
  test('non-trace events come out in task order whatever the timing and concurrency; results in task order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 4 }), async (delays, concurrency) => {
        const { events, result } = await drain(runConcurrent(delays.map((d, i) => task(i, d)), concurrency));
        assert.deepEqual(result, delays.map((_, i) => i * 10));
        const ordered = events.filter((e) => e.type !== 'trace').map((e) => (e.type === 'warning' ? e.message : e.type === 'markdown' ? e.text : ''));
        const expected = delays.flatMap((d, i) => [...d.map((_, k) => `task ${i} step ${k}`), `done ${i}`]);
        assert.deepEqual(ordered, expected);
        // Every trace delta arrives, and per stream in order.
        for (let i = 0; i < delays.length; i++) {
          const text = events.filter((e) => e.type === 'trace' && e.streamId === `s${i}`).map((e) => (e as { delta: string }).delta).join('');
          assert.equal(text, delays[i].map((_, k) => `${i}.${k} `).join(''));
        }
      }),
      { numRuns: 25 },
    );
  });

  test('ordered: every event, traces included, comes out grouped by task in task order (one group per clip)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 4 }), async (delays, concurrency) => {
        const { events } = await drain(runConcurrent(delays.map((d, i) => task(i, d)), concurrency, { ordered: true }));
        const owner = events.map((e) => (e.type === 'trace' ? Number(e.streamId.slice(1)) : Number(/(?:task|done) (\d+)/.exec(e.type === 'warning' ? e.message : e.type === 'markdown' ? e.text : '')?.[1])));
        assert.deepEqual(owner, [...owner].sort((a, b) => a - b), 'no event of a later task before one of an earlier task');
        assert.equal(events.length, delays.reduce((n, d) => n + 2 * d.length + 1, 0));
      }),
      { numRuns: 25 },
    );
  });

  test('runs at most `concurrency` tasks at once', async () => {
    let running = 0;
    let peak = 0;
    const mk = () => async function* (): AsyncGenerator<StageEvent, void, void> {
      running++;
      peak = Math.max(peak, running);
      await sleep(15);
      yield { type: 'trace', streamId: 'x', delta: '.' };
      running--;
    };
    await drain(runConcurrent([mk(), mk(), mk(), mk(), mk()], 2));
    assert.equal(peak, 2);
  });

  test('a failing task is rethrown after the others finish', async () => {
    // eslint-disable-next-line require-yield
    const bad = async function* (): AsyncGenerator<StageEvent, number, void> {
      await sleep(1);
      throw new Error('boom');
    };
    await assert.rejects(drain(runConcurrent([task(0, [5]), bad], 2)), /boom/);
  });

  test('usage totals: cost unknown once any call has no price', () => {
    const a = addToTotals(EMPTY_TOTALS, { promptTokens: 10, completionTokens: 2, latencyMs: 100, costUsd: 0.5 });
    assert.deepEqual(a, { calls: 1, promptTokens: 10, completionTokens: 2, latencyMs: 100, costUsd: 0.5 });
    const b = addToTotals(a, { promptTokens: 1, completionTokens: 1, latencyMs: 1 }, 2);
    assert.equal(b.costUsd, undefined);
    assert.equal(b.calls, 3);
    assert.equal(addToTotals(b, { promptTokens: 1, completionTokens: 1, latencyMs: 1, costUsd: 1 }).costUsd, undefined);
  });

  test('prompt markdown fences the prompt so no text in it becomes markdown', () => {
    const md = promptMarkdown({ name: 'pivot-frame.cot', text: 'a ``` b **c**', hash: 'f'.repeat(64), templateHash: 'e'.repeat(64), source: 'cell' }, 'clip 1');
    assert.match(md, /^\*\*Prompt\*\* `pivot-frame\.cot` \(from a prompt cell of this notebook\)/);
    assert.ok(md.includes('````text\na ``` b **c**\n````'));
  });
});
