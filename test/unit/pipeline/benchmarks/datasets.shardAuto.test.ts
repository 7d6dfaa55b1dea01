import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { registerMergeCommand } from '../../../../src/cli/commands/merge';
import { registerScoreCommand } from '../../../../src/cli/commands/score';
import { autoShard, resolveShard } from '../../../../src/pipeline/benchmarks/datasets';
import { makeMevis } from '../../../tooling/datasets';

/** The variables `sbatch --array=<min>-<max>` sets for task `id`. */
function slurm(id: number, min: number, max: number, count = max - min + 1): NodeJS.ProcessEnv {
  return { SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: String(min), SLURM_ARRAY_TASK_MAX: String(max), SLURM_ARRAY_TASK_COUNT: String(count), SLURM_ARRAY_JOB_ID: '77' };
}

suite('benchmarks/shard auto: the shard from the scheduler environment', () => {
  test('Slurm: a whole 0-(n-1) array gives shard id of n', () => {
    assert.deepEqual([0, 1, 2].map((i) => { const s = autoShard(slurm(i, 0, 2)); return [s.index, s.count]; }), [[0, 3], [1, 3], [2, 3]]);
    assert.match(autoShard(slurm(1, 0, 2)).source, /slurm \(SLURM_ARRAY_TASK_ID=1, 3 shards: the array 0-2\)/);
    // a throttled array (--array=0-7%2) is still whole
    assert.equal(autoShard(slurm(5, 0, 7, 8)).count, 8);
  });

  test('Slurm: a task re-submitted alone takes the count from the flag, ALREF_SHARD_COUNT or the run\'s record; otherwise a clear error', () => {
    assert.throws(() => autoShard(slurm(5, 5, 5)), /not a whole 0-\(n-1\) array.*pass --shard-count <n>/);
    assert.deepEqual([autoShard(slurm(5, 5, 5), 8).index, autoShard(slurm(5, 5, 5), 8).count], [5, 8]);
    assert.equal(autoShard({ ...slurm(5, 5, 5), ALREF_SHARD_COUNT: '8' }).count, 8);
    const rec = autoShard(slurm(5, 5, 5), undefined, { count: 8, file: '/out/sharding.json' });
    assert.deepEqual([rec.index, rec.count], [5, 8]);
    assert.match(rec.source, /as recorded in \/out\/sharding\.json/);
    // the record wins over a partial array that happens to start at 0 (--array=0-1 re-run of 4 shards)
    assert.equal(autoShard(slurm(1, 0, 1), undefined, { count: 4, file: 'f' }).count, 4);
    // 1-based arrays are refused with the fix
    assert.throws(() => autoShard(slurm(8, 1, 8)), /not a whole 0-\(n-1\) array/);
    assert.throws(() => autoShard(slurm(8, 1, 8), 8), /task 8 is not a shard of 8 .*--array=0-7/);
  });

  test('Kubernetes Indexed Job: JOB_COMPLETION_INDEX with the count from the flag or ALREF_SHARD_COUNT', () => {
    assert.deepEqual(autoShard({ JOB_COMPLETION_INDEX: '3', ALREF_SHARD_COUNT: '4' }), { index: 3, count: 4, source: 'kubernetes (JOB_COMPLETION_INDEX=3, 4 shards: ALREF_SHARD_COUNT)' });
    assert.equal(autoShard({ JOB_COMPLETION_INDEX: '0' }, 2).count, 2);
    assert.throws(() => autoShard({ JOB_COMPLETION_INDEX: '0' }), /number of shards is not: pass --shard-count <completions> or set ALREF_SHARD_COUNT/);
    assert.throws(() => autoShard({ JOB_COMPLETION_INDEX: '4', ALREF_SHARD_COUNT: '4' }), /not below the shard count 4/);
    assert.throws(() => autoShard({ JOB_COMPLETION_INDEX: 'x', ALREF_SHARD_COUNT: '4' }), /JOB_COMPLETION_INDEX="x" is not a whole number/);
  });

  test('no scheduler: --shard auto is an error naming both variables; i/n and --shard-count are checked', () => {
    assert.throws(() => resolveShard('auto', {}), /SLURM_ARRAY_TASK_ID \(sbatch --array\) and JOB_COMPLETION_INDEX .* are both unset\. Outside a scheduler use --shard i\/n/);
    assert.deepEqual(resolveShard('1/4', {}), { index: 1, count: 4 });
    assert.deepEqual(resolveShard(undefined, slurm(1, 0, 2)), { index: 0, count: 1 });
    assert.throws(() => resolveShard('1/4', {}, 4), /--shard-count only goes with --shard auto/);
  });

  test('alref score --shard auto: three array tasks writing into one folder leave three shard files, merged equal to the unsharded score', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'alref-shard-auto-'));
    const saved = { ...process.env };
    const ow = process.stdout.write.bind(process.stdout);
    const ew = process.stderr.write.bind(process.stderr);
    const savedCode = process.exitCode;
    (process.stdout as any).write = () => true;
    (process.stderr as any).write = () => true;
    const alref = async (args: string[]): Promise<void> => {
      const program = new Command('alref').exitOverride();
      registerScoreCommand(program);
      registerMergeCommand(program);
      await program.parseAsync(['node', 'alref', ...args]);
    };
    try {
      const root = await makeMevis(path.join(base, 'mevis'), { videos: 3 });
      const common = ['--dataset', 'mevis', '--root', root, '--pred', path.join(root, 'pred'), '--quiet'];
      await alref(['score', ...common, '--out', path.join(base, 'whole.json')]);
      const shards = path.join(base, 'shards');
      mkdirSync(shards);
      for (const i of [0, 1, 2]) {
        Object.assign(process.env, slurm(i, 0, 2));
        await alref(['score', ...common, '--shard', 'auto', '--out', shards]);
      }
      assert.deepEqual(readdirSync(shards).sort(), ['shard-0-of-3.json', 'shard-1-of-3.json', 'shard-2-of-3.json']);
      await alref(['merge', shards, '--out', path.join(base, 'merged.json')]);
      assert.equal(process.exitCode ?? 0, 0);
      const whole = JSON.parse(readFileSync(path.join(base, 'whole.json'), 'utf8'));
      const merged = JSON.parse(readFileSync(path.join(base, 'merged.json'), 'utf8'));
      assert.deepEqual(merged.summary, whole.summary);
      assert.deepEqual(merged.records, whole.records);
    } finally {
      process.stdout.write = ow;
      process.stderr.write = ew;
      process.exitCode = savedCode;
      for (const k of Object.keys(process.env)) {
        if (!(k in saved)) {
          delete process.env[k];
        }
      }
      Object.assign(process.env, saved);
      rmSync(base, { recursive: true, force: true });
    }
  });
});
