import assert from 'node:assert/strict';
import type { StageEvent } from '../../../../src/pipeline/events';
import type { RenderedPrompt } from '../../../../src/pipeline/llm/templates';
import { ClipUsage, clipHeader, promptDifference, runClipCalls } from '../../../../src/pipeline/stages/clipCalls';

const prompt = (text: string, hash: string): RenderedPrompt => ({ name: 'pivot-box.cot', source: 'file', hash: hash.padEnd(64, '0'), templateHash: 'f'.repeat(64), text });

suite('clip calls: one group of outputs per clip, the prompt printed once', () => {
  test('the difference of two prompts: changed lines, compared line by line', () => {
    const a = 'intro\nFrame 3 is the key frame\n- box 1: green\nend';
    const b = 'intro\nFrame 5 is the key frame\n- box 1: green\nend';
    assert.deepEqual(promptDifference(b, a), ['Frame 5 is the key frame']);
    assert.deepEqual(promptDifference(`${b}\n- box 2: magenta`, a), ['Frame 5 is the key frame', '- box 2: magenta']);
    assert.deepEqual(promptDifference(a, a), []);
  });

  test('a clip header says "as shown above", or quotes the changed lines (escaped, capped)', () => {
    const shown = { hash: 'a'.repeat(64), text: 'x\nFrame 3 is the key frame', what: 'object 1, clip 1' };
    assert.equal(clipHeader('Object 1 · clip 2', undefined, shown), '#### Object 1 · clip 2');
    assert.match(clipHeader('Object 1 · clip 1', prompt('x', 'a'.repeat(64)), shown), /Prompt: as shown above \(object 1, clip 1\)\.$/);
    const h = clipHeader('Object 1 · clip 3', prompt('x\nFrame 5 is the *key* frame', 'b'), shown);
    assert.match(h, /except this line/);
    assert.match(h, /> Frame 5 is the \\\*key\\\* frame/);
    const many = clipHeader('c', prompt(['1', '2', '3', '4', '5'].join('\n'), 'c'), shown);
    assert.match(many, /and 2 more changed lines/);
  });

  test('runClipCalls: the first prompt in full once; each clip a header then its own events, in clip order', async () => {
    const calls = [0, 1, 2].map((i) => ({
      clipIndex: i,
      title: `Object 1 · clip ${i + 1}`,
      prompt: prompt(`intro\nFrame ${i + 1} is the key frame`, String(i)),
      run: async function* (): AsyncGenerator<StageEvent, { value: number; calls: number }, void> {
        await new Promise((r) => setTimeout(r, (3 - i) * 5));
        yield { type: 'trace', streamId: `s${i}`, delta: 'thinking' };
        yield { type: 'markdown', text: `answer ${i}` };
        return { value: i, calls: 1 };
      },
    }));
    const usage = new ClipUsage();
    const events: StageEvent[] = [];
    const gen = runClipCalls(1, calls, 3, usage);
    let r = await gen.next();
    while (!r.done) {
      events.push(r.value);
      r = await gen.next();
    }
    assert.deepEqual(r.value, [0, 1, 2]);
    const seen = events.map((e) => (e.type === 'markdown' ? e.text.split('\n')[0] : `trace ${(e as { streamId: string }).streamId}`));
    assert.match(seen[0], /^\*\*Prompt\*\*/);
    assert.deepEqual(seen.slice(1), ['#### Object 1 · clip 1', 'trace s0', 'answer 0', '#### Object 1 · clip 2', 'trace s1', 'answer 1', '#### Object 1 · clip 3', 'trace s2', 'answer 2']);
    assert.equal(events.filter((e) => e.type === 'markdown' && e.text.includes('intro')).length, 1, 'the shared prompt text is printed once');
    // A second object does not print the prompt again.
    const again = runClipCalls(2, calls.slice(0, 1), 1, usage);
    let first = await again.next();
    assert.ok(!first.done && first.value.type === 'markdown' && first.value.text.startsWith('#### '));
    while (!first.done) {
      first = await again.next();
    }
  });
});
