/**
 * The shipped cluster files, linted without kubectl or docker: the Kubernetes manifest is parsed and
 * validated against a JSON Schema of the batch/v1 Job fields it uses (unknown fields are errors, so a
 * typo such as `completionmode` fails) plus the cross-field rules the shards depend on; the sbatch
 * script passes `bash -n`, its #SBATCH lines are known sbatch options, and it forwards its arguments;
 * the Dockerfile builds what the CLI needs.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parseAllDocuments } from 'yaml';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { readDataset } from '../../../src/pipeline/benchmarks/datasets';
import { scoreDataset, summarizeRecords } from '../../../src/pipeline/benchmarks/score';

const REPO = path.resolve(__dirname, '../../..');
const K8S = path.join(REPO, 'deploy', 'k8s', 'alref-eval-job.yaml');
const SBATCH = path.join(REPO, 'deploy', 'slurm', 'alref-eval.sbatch');
const DOCKERFILE = path.join(REPO, 'Dockerfile');

const quantity = { anyOf: [{ type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$' }, { type: 'number', minimum: 0 }] };
const dnsName = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };
const strings = { type: 'array', items: { type: 'string' } };
const closed = (properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> => ({ type: 'object', additionalProperties: false, properties, required });

const container = closed({
  name: dnsName,
  image: { type: 'string', minLength: 1 },
  command: strings,
  args: strings,
  env: {
    type: 'array',
    items: {
      oneOf: [
        closed({ name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, value: { type: 'string' } }, ['name', 'value']),
        closed({ name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, valueFrom: closed({ secretKeyRef: closed({ name: dnsName, key: { type: 'string' } }, ['name', 'key']) }, ['secretKeyRef']) }, ['name', 'valueFrom']),
      ],
    },
  },
  resources: closed({ requests: closed({ cpu: quantity, memory: quantity, 'nvidia.com/gpu': quantity }), limits: closed({ cpu: quantity, memory: quantity, 'nvidia.com/gpu': quantity }) }),
  volumeMounts: { type: 'array', items: closed({ name: dnsName, mountPath: { type: 'string', pattern: '^/' }, readOnly: { type: 'boolean' } }, ['name', 'mountPath']) },
}, ['name', 'image']);

/** The batch/v1 Job fields the manifest uses (a subset of the Kubernetes OpenAPI schema, closed). */
const JOB_SCHEMA = closed({
  apiVersion: { const: 'batch/v1' },
  kind: { const: 'Job' },
  metadata: closed({ name: dnsName, labels: { type: 'object', additionalProperties: { type: 'string' } } }, ['name']),
  spec: closed({
    completionMode: { enum: ['NonIndexed', 'Indexed'] },
    completions: { type: 'integer', minimum: 1 },
    parallelism: { type: 'integer', minimum: 1 },
    backoffLimit: { type: 'integer', minimum: 0 },
    activeDeadlineSeconds: { type: 'integer', minimum: 1 },
    ttlSecondsAfterFinished: { type: 'integer', minimum: 0 },
    template: closed({
      metadata: closed({ labels: { type: 'object', additionalProperties: { type: 'string' } } }),
      spec: closed({
        restartPolicy: { enum: ['Never', 'OnFailure'] },
        initContainers: { type: 'array', items: container },
        containers: { type: 'array', minItems: 1, items: container },
        volumes: { type: 'array', items: closed({ name: dnsName, persistentVolumeClaim: closed({ claimName: dnsName, readOnly: { type: 'boolean' } }, ['claimName']) }, ['name']) },
      }, ['restartPolicy', 'containers']),
    }, ['spec']),
  }, ['template']),
}, ['apiVersion', 'kind', 'metadata', 'spec']);

interface Container { name: string; image: string; command?: string[]; args?: string[]; env?: Array<{ name: string; value?: string }>; volumeMounts?: Array<{ name: string; mountPath: string }> }
interface Job { metadata: { name: string }; spec: { completionMode?: string; completions?: number; parallelism?: number; activeDeadlineSeconds?: number; template: { spec: { initContainers?: Container[]; containers: Container[]; volumes?: Array<{ name: string }> } } } }

/** Long options of sbatch (Slurm 22.05+) that a job script may set in #SBATCH lines. */
const SBATCH_OPTIONS = new Set([
  'account', 'array', 'begin', 'chdir', 'comment', 'constraint', 'cpus-per-gpu', 'cpus-per-task', 'dependency', 'error', 'exclusive',
  'export', 'gpus', 'gpus-per-node', 'gpus-per-task', 'gres', 'hold', 'input', 'job-name', 'mail-type', 'mail-user', 'mem',
  'mem-per-cpu', 'mem-per-gpu', 'nodes', 'ntasks', 'ntasks-per-node', 'open-mode', 'output', 'partition', 'qos', 'requeue',
  'no-requeue', 'reservation', 'signal', 'time', 'tmp', 'wait', 'wckey',
]);

suite('deploy: cluster files linted without kubectl or docker', () => {
  const docs = parseAllDocuments(readFileSync(K8S, 'utf8'));
  const jobs = docs.map((d) => d.toJS() as Job);

  test('the Kubernetes manifest parses and every document is a valid batch/v1 Job (closed schema of the fields used)', () => {
    assert.deepEqual(docs.flatMap((d) => d.errors.map((e) => e.message)), []);
    assert.equal(jobs.length, 2);
    const validate = new Ajv({ allErrors: true, strict: true }).compile(JOB_SCHEMA);
    for (const job of jobs) {
      assert.ok(validate(job), `${job.metadata?.name}: ${JSON.stringify(validate.errors, null, 1)}`);
    }
    // the schema catches a typo in a field name
    const typo = JSON.parse(JSON.stringify(jobs[0]));
    typo.spec.completionmode = typo.spec.completionMode;
    delete typo.spec.completionMode;
    assert.equal(validate(typo), false);
  });

  test('the Indexed Job runs `alref eval --shard auto` with ALREF_SHARD_COUNT = completions; the merge Job waits for that many shard files of the same --out', () => {
    const evalJob = jobs.find((j) => j.spec.completionMode === 'Indexed')!;
    const merge = jobs.find((j) => j !== evalJob)!;
    assert.ok(evalJob && merge);
    const c = evalJob.spec.template.spec.containers[0];
    const args = c.args ?? [];
    assert.equal(args[0], 'eval');
    assert.equal(args[args.indexOf('--shard') + 1], 'auto');
    const count = Number(c.env?.find((e) => e.name === 'ALREF_SHARD_COUNT')?.value);
    assert.equal(count, evalJob.spec.completions);
    assert.ok((evalJob.spec.parallelism ?? 1) <= count);
    const out = args[args.indexOf('--out') + 1];
    const m = merge.spec.template.spec.containers[0];
    assert.deepEqual(m.args?.slice(0, 2), ['merge', out]);
    const wait = merge.spec.template.spec.initContainers?.[0];
    assert.ok(wait, 'the merge Job waits for the shards in an init container');
    assert.equal(Number(wait.env?.find((e) => e.name === 'SHARDS')?.value), count);
    assert.ok(wait.command?.join(' ').includes(`${out}/shard-*-of-`), wait.command?.join(' '));
    // the wait is bounded: a shard that never writes its file cannot keep the merge Job waiting forever
    assert.ok((merge.spec.activeDeadlineSeconds ?? 0) > 0, 'the merge Job has an activeDeadlineSeconds');
    assert.equal(c.image, m.image);
    // every mount names a volume of its pod; the output volume is mounted by both Jobs at the same path
    for (const job of jobs) {
      const vols = new Set((job.spec.template.spec.volumes ?? []).map((v) => v.name));
      for (const ct of [...(job.spec.template.spec.initContainers ?? []), ...job.spec.template.spec.containers]) {
        for (const vm of ct.volumeMounts ?? []) {
          assert.ok(vols.has(vm.name), `${job.metadata.name}/${ct.name}: volume ${vm.name}`);
        }
      }
      const mounts = job.spec.template.spec.containers[0].volumeMounts ?? [];
      assert.ok(mounts.some((vm) => out.startsWith(`${vm.mountPath}/`)), `${job.metadata.name} mounts ${out}`);
    }
  });

  test('the sbatch script: bash -n, #SBATCH lines are known sbatch options, array tasks run `alref eval --shard auto` with the arguments, --merge runs `alref merge`', () => {
    const syntax = spawnSync('bash', ['-n', SBATCH], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    const text = readFileSync(SBATCH, 'utf8');
    const lines = text.split('\n').filter((l) => l.startsWith('#SBATCH'));
    assert.ok(lines.length >= 3);
    // where sbatch is installed, its own --help is the authority too
    const help = spawnSync('sbatch', ['--help'], { encoding: 'utf8' });
    for (const l of lines) {
      const m = /^#SBATCH --([a-z-]+)(=\S+)?$/.exec(l);
      assert.ok(m, `not a long option: ${l}`);
      assert.ok(SBATCH_OPTIONS.has(m[1]), `unknown sbatch option in: ${l}`);
      if (help.status === 0) {
        assert.ok(help.stdout.includes(`--${m[1]}`), `sbatch --help does not list --${m[1]}`);
      }
    }
    // no directive may follow the first command (sbatch stops reading them there)
    const firstCommand = text.split('\n').findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
    const lastDirective = text.split('\n').map((l, i) => (l.startsWith('#SBATCH') ? i : -1)).reduce((a, b) => Math.max(a, b));
    assert.ok(lastDirective < firstCommand);
    // argument forwarding, with `echo` standing in for the CLI
    const env = { PATH: process.env.PATH, ALREF: 'echo alref' };
    const task = spawnSync('bash', [SBATCH, '--dataset', 'mevis', '--root', '/data/m e', '--out', '/o'], { env: { ...env, SLURM_ARRAY_TASK_ID: '2' }, encoding: 'utf8' });
    assert.equal(task.status, 0, task.stderr);
    assert.match(task.stdout, /^alref eval --shard auto --quiet --dataset mevis --root \/data\/m e --out \/o$/m);
    const merge = spawnSync('bash', [SBATCH, '--merge', '/o', '--zip', '/o/s.zip'], { env, encoding: 'utf8' });
    assert.equal(merge.status, 0, merge.stderr);
    assert.equal(merge.stdout, 'alref merge /o --out /o/report.json --zip /o/s.zip\n');
    const outside = spawnSync('bash', [SBATCH, '--dataset', 'mevis'], { env, encoding: 'utf8' });
    assert.equal(outside.status, 2);
    assert.match(outside.stderr, /submit this script as an array job: sbatch --array=0-<shards - 1>/);
  });

  test('the Dockerfile: Node, ffmpeg, the built CLI as the entrypoint, and every copied resource exists', () => {
    const text = readFileSync(DOCKERFILE, 'utf8');
    assert.match(text, /^FROM node:20-bookworm-slim AS build$/m);
    assert.match(text, /apt-get install -y --no-install-recommends ffmpeg/);
    assert.match(text, /npm ci/);
    assert.match(text, /npm run build/);
    assert.match(text, /^ENTRYPOINT \["alref"\]$/m);
    for (const m of text.matchAll(/^COPY --from=build \/src\/(\S+) /gm)) {
      const p = m[1];
      assert.ok(['node_modules', 'dist'].includes(p) || existsSync(path.join(REPO, p)), `COPY of a missing ${p}`);
    }
    // the CLI finds prompts/ and assets/ next to dist/ (packageRoot): they must be copied
    for (const p of ['prompts', 'assets', 'package.json']) {
      assert.match(text, new RegExp(`COPY --from=build /src/${p} `));
    }
    // the image name the manifest runs is the one the Dockerfile's usage line builds
    const image = jobs[0].spec.template.spec.containers[0].image.split(':')[0];
    assert.ok(text.includes(`docker build -t ${image} .`));
  });

  test('deploy/sample-dataset.sh arranges the bundled car-shadow clip as a 3-video Ref-YouTube-VOS train split that reads and scores', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alref-sample-ds-'));
    try {
      const r = spawnSync('bash', [path.join(REPO, 'deploy', 'sample-dataset.sh'), path.join(dir, 'car-shadow')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const ds = await readDataset('ref-youtube-vos', path.join(dir, 'car-shadow'), 'train');
      assert.deepEqual(ds.items.map((i) => [i.id, i.frames.length]), [['car-shadow-a/0', 14], ['car-shadow-b/0', 13], ['car-shadow-c/0', 13]]);
      // the ground truth itself as the prediction scores 1
      for (const item of ds.items) {
        cpSync(ds.gtDirs.get(item.video)!, path.join(dir, 'pred', item.video, '0'), { recursive: true });
      }
      const { records, warnings } = await scoreDataset(ds, path.join(dir, 'pred'));
      assert.deepEqual(warnings, []);
      assert.deepEqual(summarizeRecords('ref-youtube-vos', records).headline, { 'J&F': 1, J: 1, F: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
