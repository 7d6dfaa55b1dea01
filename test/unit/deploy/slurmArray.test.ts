/**
 * The shipped `deploy/slurm/alref-eval.sbatch` on a real (one-node, localhost) Slurm cluster: a 3-task
 * array of `alref eval --shard auto` over a small synthetic MeViS split (fixture ONNX models, the local
 * OpenAI-compatible server), then the dependent merge job; the merged report equals an unsharded run,
 * and a re-submitted task resumes. Needs Debian's `slurm-wlm` and `munge` and root; where the daemons
 * cannot start, the suite is skipped with the reason printed.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { itemFileName } from '../../../src/batch/runner';
import { makeMevis } from '../../tooling/datasets';
import { writeModelFixtures } from '../../tooling/onnxFixtures';
import { OpenAiTestServer } from '../../tooling/openaiServer';
import { SlurmCluster } from '../../tooling/slurmCluster';

const REPO = path.resolve(__dirname, '../../..');
const SBATCH = path.join(REPO, 'deploy', 'slurm', 'alref-eval.sbatch');

/** Runs a command to its end; resolves with its exit code and output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { out += String(d); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

suite('cluster: the shipped sbatch script as a 3-task Slurm array on a one-node localhost cluster', function () {
  this.timeout(600_000);
  let cluster: SlurmCluster | undefined;
  let server: OpenAiTestServer | undefined;
  let base: string;
  let bundleDir: string;
  let cli: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let evalArgs: string[];

  suiteSetup(async function () {
    const started = await SlurmCluster.start({ cpus: 3 });
    if (typeof started === 'string') {
      // visible in the test output: why the real-scheduler test did not run
      console.log(`      SKIPPED (Slurm): ${started}`);
      this.skip();
    }
    cluster = started as SlurmCluster;
    base = mkdtempSync(path.join(os.tmpdir(), 'alref-slurm-test-'));
    // the CLI as it ships (an esbuild bundle), inside the repository so it finds prompts/ and node_modules/
    mkdirSync(path.join(REPO, '.cache'), { recursive: true });
    bundleDir = mkdtempSync(path.join(REPO, '.cache', 'slurm-cli-'));
    cli = path.join(bundleDir, 'dist', 'cli.js');
    await esbuild.build({
      entryPoints: [path.join(REPO, 'src', 'cli', 'main.ts')], outfile: cli, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error',
      external: ['vscode', 'onnxruntime-node', 'sharp', '@ffmpeg-installer/ffmpeg', '@ffprobe-installer/ffprobe', 'fluent-ffmpeg'],
    });
    await writeModelFixtures(path.join(base, 'models'));
    server = await OpenAiTestServer.start();
    server.setScript(() => 'The object is clearest here. [1]');
    root = await makeMevis(path.join(base, 'mevis'), { videos: 3, frames: 4, width: 64, height: 48, predictions: false });
    env = {
      ...cluster.env, OPENAI_API_KEY: 'sk-local-test', XDG_CACHE_HOME: path.join(base, 'xdg'),
      ALREF: `${process.execPath} ${cli}`,
    };
    evalArgs = ['--dataset', 'mevis', '--root', root, '--set', `llm.baseUrl=${server.baseUrl}`, '--set', `models.localDir=${path.join(base, 'models')}`, '--set', 'llm.maxRetries=0'];
  });

  suiteTeardown(async () => {
    await cluster?.stop();
    await server?.stop();
    if (base) {
      rmSync(base, { recursive: true, force: true });
    }
    if (bundleDir) {
      rmSync(bundleDir, { recursive: true, force: true });
    }
  });

  /** Array and merge job of the shipped script; resolves with the merge job's log. */
  async function submitArrayThenMerge(out: string, array: string): Promise<{ arrayId: string; mergeId: string; mergeLog: string; taskLogs: Map<string, string> }> {
    const c = cluster!;
    const logs = path.join(out, 'logs');
    mkdirSync(logs, { recursive: true }); // Slurm does not create the folder of --output
    // command-line options override the script's #SBATCH lines (a test node has 3 CPUs and 4 GB)
    const arrayId = c.run('sbatch', ['--parsable', `--array=${array}`, '--cpus-per-task=1', '--mem=500M', `--output=${logs}/eval-%A_%a.out`, SBATCH, ...evalArgs, '--out', out], env).trim().split(';')[0];
    const mergeId = c.run('sbatch', ['--parsable', `--dependency=afterany:${arrayId}`, '--cpus-per-task=1', '--mem=500M', `--output=${logs}/merge-%j.out`, SBATCH, '--merge', out], env).trim().split(';')[0];
    await c.waitForJobs([arrayId, mergeId]);
    const taskLogs = new Map<string, string>();
    for (const n of readdirSync(logs).filter((f) => f.startsWith(`eval-${arrayId}_`))) {
      taskLogs.set(n.slice(`eval-${arrayId}_`.length, -'.out'.length), readFileSync(path.join(logs, n), 'utf8'));
    }
    const mergeLog = path.join(logs, `merge-${mergeId}.out`);
    return { arrayId, mergeId, mergeLog: existsSync(mergeLog) ? readFileSync(mergeLog, 'utf8') : '(no merge log)', taskLogs };
  }

  test('3 array tasks share one output folder; the merge job\'s report equals the unsharded run; a re-submitted task resumes', async () => {
    // the reference: one unsharded run of the same CLI, outside Slurm
    const whole = await run(process.execPath, [cli, 'eval', ...evalArgs, '--out', path.join(base, 'whole'), '--quiet'], env);
    assert.equal(whole.code, 0, whole.out);
    const expected = JSON.parse(readFileSync(path.join(base, 'whole', 'report.json'), 'utf8'));
    assert.equal(expected.records.length, 6);

    const out = path.join(base, 'sharded');
    const first = await submitArrayThenMerge(out, '0-2');
    const context = `\n${[...first.taskLogs].map(([k, v]) => `--- task ${k}\n${v}`).join('\n')}\n--- merge\n${first.mergeLog}${cluster!.logTail()}`;
    assert.deepEqual([...first.taskLogs.keys()].sort(), ['0', '1', '2'], context);
    for (const [k, log] of first.taskLogs) {
      assert.match(log, new RegExp(`Shard ${k}/3 from slurm \\(SLURM_ARRAY_TASK_ID=${k}, 3 shards`), context);
      assert.match(log, /2 item\(s\) run, 0 already finished, 0 failed, of 2\./, context);
    }
    assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('shard-')).sort(), ['shard-0-of-3.json', 'shard-1-of-3.json', 'shard-2-of-3.json']);
    assert.match(first.mergeLog, /mevis \/ valid_u: 6 unit\(s\) scored/, context);
    const merged = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));
    assert.deepEqual(merged.missingShards, []);
    assert.deepEqual(merged.shards.map((s: { index: number }) => s.index).sort(), [0, 1, 2]);
    assert.deepEqual(merged.run, { total: 6, done: 6, failed: 0, skipped: 0 });
    assert.deepEqual(merged.summary, expected.summary);
    assert.deepEqual(merged.records, expected.records);

    // a task that died half-way (one item's status gone) is re-submitted alone: it runs that item only
    const requests = server!.requests.length;
    unlinkSync(path.join(out, 'items', `${itemFileName('vid1/0')}.json`));
    const again = await submitArrayThenMerge(out, '1');
    const log = [...again.taskLogs.values()][0] ?? '';
    // the array is now just task 1: the shard count comes from the run's sharding.json
    assert.match(log, /Shard 1\/3 from slurm \(SLURM_ARRAY_TASK_ID=1, 3 shards: as recorded in .*sharding\.json\)/, log);
    assert.match(log, /1 item\(s\) run, 1 already finished, 0 failed, of 2\./, `${log}\n${again.mergeLog}`);
    assert.ok(server!.requests.length > requests, 'the re-run item asked the LLM again');
    // the merge after the re-submitted task: still three shards (the other two files untouched), same numbers
    const remerged = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));
    assert.deepEqual(remerged.summary, expected.summary);
    assert.deepEqual(remerged.missingShards, []);
  });
});
