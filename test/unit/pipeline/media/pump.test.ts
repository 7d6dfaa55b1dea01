import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pump } from '../../../../src/pipeline/media/pump';

suite('media/pump: progress callbacks as an async generator', () => {
  test('coalesces bursts, always yields the last value, returns the result', async () => {
    const seen: number[] = [];
    const gen = pump<number, string>(async (emit) => {
      for (let i = 1; i <= 1000; i++) {
        emit(i);
        if (i % 250 === 0) {
          await sleep(30);
        }
      }
      return 'done';
    }, 20);
    let r = await gen.next();
    for (; !r.done; r = await gen.next()) {
      seen.push(r.value);
    }
    assert.equal(r.value, 'done');
    assert.ok(seen.length >= 1 && seen.length < 50, `yielded ${seen.length}`);
    assert.equal(seen[seen.length - 1], 1000);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, 'in order');
  });

  test('a failing job rejects the generator', async () => {
    const gen = pump<number, void>(async (emit) => {
      emit(1);
      await sleep(5);
      throw new Error('job failed');
    }, 1);
    await assert.rejects(
      (async () => {
        for (let r = await gen.next(); !r.done; r = await gen.next()) {
          // drain
        }
      })(),
      /job failed/,
    );
  });

  test('return() signals the job as abandoned and waits for it', async () => {
    let stopped = false;
    const gen = pump<number, void>(async (emit, abandoned) => {
      for (let i = 0; !abandoned.aborted; i++) {
        emit(i);
        await sleep(5);
      }
      await sleep(20);
      stopped = true;
    }, 1);
    await gen.next();
    await gen.return(undefined);
    assert.equal(stopped, true);
  });
});
