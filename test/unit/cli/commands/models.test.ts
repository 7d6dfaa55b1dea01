import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { writeModelFixtures } from '../../../tooling/onnxFixtures';

function alref(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', path.resolve('src/cli/main.ts'), ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

suite('cli: alref models list | pull | verify | path', () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  const blob = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 13) & 0xff);

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-cli-'));
    await writeModelFixtures(path.join(dir, 'local'), { only: ['sam2'] });
    server = http.createServer((req, res) => {
      if (req.url === '/toy/model.onnx') {
        res.writeHead(200, { 'content-length': blob.length }).end(Buffer.from(blob));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sha = createHash('sha256').update(blob).digest('hex');
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ models: [{ id: 'toy', task: 'audio-tagger', licence: 'MIT', files: [{ key: 'model', path: 'model.onnx', url: `${url}/toy/model.onnx`, size: blob.length, sizeExact: true, sha256: sha }] }] }));
  });
  suiteTeardown(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  test('list marks models present in the local folder', async () => {
    const r = await alref(['models', 'list', '--local-dir', path.join(dir, 'local'), '--cache-dir', path.join(dir, 'cache')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\* sam2\.1-hiera-tiny-video\s+sam2-video/m);
    assert.match(r.stdout, /^ {2}grounding-dino-tiny\s+grounding-dino\s+695 MB\s+Apache-2\.0\s+not downloaded/m);
  });

  test('path of a missing model exits 3 and says how to get it', async () => {
    const r = await alref(['models', 'path', 'grounding-dino-tiny', '--cache-dir', path.join(dir, 'cache')]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /alref models pull grounding-dino-tiny/);
    const ok = await alref(['models', 'path', 'sam2.1-hiera-tiny-video', '--file', 'vision_encoder', '--local-dir', path.join(dir, 'local')]);
    assert.equal(ok.stdout.trim(), path.join(dir, 'local', 'sam2.1-hiera-tiny-video', 'onnx', 'vision_encoder.onnx'));
  });

  test('pull from a user manifest (127.0.0.1 server), then verify; a changed file fails verify with exit 2', async () => {
    const common = ['--cache-dir', path.join(dir, 'cache'), '--manifest', path.join(dir, 'manifest.json')];
    const p = await alref(['models', 'pull', 'toy', ...common]);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout.trim(), `toy: ${path.join(dir, 'cache', 'toy')}`);
    assert.deepEqual(new Uint8Array(await readFile(path.join(dir, 'cache', 'toy', 'model.onnx'))), blob);
    const v = await alref(['models', 'verify', 'toy', ...common]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /toy model\s+ok \(sha256\)/);
    await writeFile(path.join(dir, 'cache', 'toy', 'model.onnx'), 'changed');
    const bad = await alref(['models', 'verify', 'toy', ...common]);
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /MISMATCH/);
  });
});
