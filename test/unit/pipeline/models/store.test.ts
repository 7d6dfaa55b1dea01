import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PipelineError } from '../../../../src/pipeline/errors';
import { downloadFile } from '../../../../src/pipeline/models/download';
import { BUILTIN_MODELS, loadUserManifest, type ModelEntry } from '../../../../src/pipeline/models/manifest';
import { ModelStore } from '../../../../src/pipeline/models/store';

interface Served {
  url: string;
  requests: Array<{ path: string; range?: string }>;
  close(): Promise<void>;
}

/**
 * A 127.0.0.1 file server with Range support. `stopHalfWayOnce` cuts the first full response of each
 * file after half its bytes (the socket is destroyed), so the client must resume.
 */
async function serve(files: Record<string, Uint8Array>, opts: { stopHalfWayOnce?: boolean; ignoreRange?: boolean } = {}): Promise<Served> {
  const requests: Served['requests'] = [];
  const cut = new Set<string>();
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent((req.url ?? '').split('?')[0]);
    requests.push({ path: p, range: req.headers.range });
    const body = files[p];
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    if (m && !opts.ignoreRange) {
      const start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      res.end(Buffer.from(body.subarray(start)));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    if (opts.stopHalfWayOnce && !cut.has(p)) {
      cut.add(p);
      res.write(Buffer.from(body.subarray(0, Math.floor(body.length / 2))), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(Buffer.from(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

suite('models/store and download', () => {
  let dir: string;
  setup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-store-'));
  });
  teardown(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('downloads with progress, checks sha256 and moves the file into place', async () => {
    const data = bytes(300_000);
    const srv = await serve({ '/m/a.bin': data });
    try {
      const seen: number[] = [];
      const dest = path.join(dir, 'cache', 'a.bin');
      await downloadFile(`${srv.url}/m/a.bin`, dest, { sha256: sha(data), size: data.length, onProgress: (p) => seen.push(p.received) });
      assert.deepEqual(new Uint8Array(await readFile(dest)), data);
      assert.equal(seen[seen.length - 1], data.length);
      assert.ok(seen.length >= 2, 'progress reported more than once');
      await assert.rejects(stat(`${dest}.part`));
    } finally {
      await srv.close();
    }
  });

  test('a server that stops half way is resumed with a Range request', async () => {
    const data = bytes(200_000);
    const srv = await serve({ '/x.onnx': data }, { stopHalfWayOnce: true });
    try {
      const dest = path.join(dir, 'x.onnx');
      await downloadFile(`${srv.url}/x.onnx`, dest, { sha256: sha(data), retryDelayMs: 10 });
      assert.deepEqual(new Uint8Array(await readFile(dest)), data);
      assert.equal(srv.requests.length, 2);
      // the second request resumes where the received bytes end (at most the half the server sent)
      const from = Number(/^bytes=(\d+)-$/.exec(srv.requests[1].range ?? '')?.[1]);
      assert.ok(from > 0 && from <= data.length / 2, `resumed from ${srv.requests[1].range}`);
    } finally {
      await srv.close();
    }
  });

  test('a partial file left by an earlier run is resumed', async () => {
    const data = bytes(50_000);
    const srv = await serve({ '/y.bin': data });
    try {
      const dest = path.join(dir, 'y.bin');
      await writeFile(`${dest}.part`, data.subarray(0, 12_345));
      await downloadFile(`${srv.url}/y.bin`, dest, { sha256: sha(data) });
      assert.deepEqual(new Uint8Array(await readFile(dest)), data);
      assert.equal(srv.requests[0].range, 'bytes=12345-');
    } finally {
      await srv.close();
    }
  });

  test('a server that ignores Range restarts the file instead of appending', async () => {
    const data = bytes(40_000);
    const srv = await serve({ '/z.bin': data }, { ignoreRange: true });
    try {
      const dest = path.join(dir, 'z.bin');
      await writeFile(`${dest}.part`, data.subarray(0, 1000));
      await downloadFile(`${srv.url}/z.bin`, dest, { sha256: sha(data) });
      assert.deepEqual(new Uint8Array(await readFile(dest)), data);
    } finally {
      await srv.close();
    }
  });

  test('checksum mismatch is an error and leaves no file behind', async () => {
    const data = bytes(10_000);
    const srv = await serve({ '/c.bin': data });
    try {
      const dest = path.join(dir, 'c.bin');
      await assert.rejects(downloadFile(`${srv.url}/c.bin`, dest, { sha256: '0'.repeat(64) }), (err: unknown) => {
        assert.ok(err instanceof PipelineError);
        assert.match(err.message, /Checksum mismatch for c\.bin/);
        assert.match(err.message, new RegExp(sha(data)));
        return true;
      });
      await assert.rejects(stat(dest));
      await assert.rejects(stat(`${dest}.part`));
    } finally {
      await srv.close();
    }
  });

  test('404 is a clean error naming the URL', async () => {
    const srv = await serve({});
    try {
      await assert.rejects(downloadFile(`${srv.url}/nope.onnx`, path.join(dir, 'n.onnx')), /nope\.onnx answered HTTP 404/);
    } finally {
      await srv.close();
    }
  });

  test('store: missing model names the pull command and URL; pull fills the cache; verify hashes', async () => {
    const a = bytes(5000);
    const b = bytes(7000);
    const srv = await serve({ '/repo/onnx/model.onnx': a, '/repo/vocab.txt': b });
    try {
      const entry: ModelEntry = {
        id: 'toy',
        task: 'grounding-dino',
        title: 'Toy',
        licence: 'MIT',
        homepage: 'https://example.invalid/toy',
        files: [
          { key: 'model', path: 'onnx/model.onnx', url: `${srv.url}/repo/onnx/model.onnx`, size: a.length, sizeExact: true, sha256: sha(a) },
          { key: 'vocab', path: 'vocab.txt', url: `${srv.url}/repo/vocab.txt`, size: null, sha256: null },
        ],
      };
      const store = new ModelStore({ cacheDir: path.join(dir, 'cache'), entries: [entry] });
      await assert.rejects(store.filePath('toy', 'model'), (err: unknown) => {
        assert.ok(err instanceof PipelineError);
        assert.equal(err.kind, 'missing-model');
        assert.match(err.message, /alref models pull toy/);
        assert.match(err.message, /example\.invalid\/toy/);
        return true;
      });
      await assert.rejects(store.filePath('toy', 'model', 'sam2-video'), /is a grounding-dino model; this slot needs a sam2-video model/);
      const progress: string[] = [];
      await store.pull('toy', { onProgress: (p) => progress.push(p.key) });
      assert.deepEqual([...new Set(progress)], ['model', 'vocab']);
      assert.equal(await store.filePath('toy', 'model'), path.join(dir, 'cache', 'toy', 'onnx', 'model.onnx'));
      const v = await store.verify('toy');
      assert.equal(v.files[0].sha256Ok, true);
      assert.equal(v.files[1].sha256Ok, null);
      await writeFile(path.join(dir, 'cache', 'toy', 'onnx', 'model.onnx'), bytes(5000).reverse());
      const v2 = await store.verify('toy');
      assert.equal(v2.files[0].sha256Ok, false);
      assert.match(v2.files[0].problem ?? '', /differs from the manifest/);
    } finally {
      await srv.close();
    }
  });

  test('store: localDir is searched before the cache', async () => {
    const local = path.join(dir, 'local');
    await mkdir(path.join(local, 'grounding-dino-tiny'), { recursive: true });
    await writeFile(path.join(local, 'grounding-dino-tiny', 'model-fixedmask.onnx'), 'x');
    await writeFile(path.join(local, 'grounding-dino-tiny', 'vocab.txt'), 'x');
    const store = new ModelStore({ cacheDir: path.join(dir, 'cache'), localDir: local, entries: BUILTIN_MODELS });
    assert.equal(await store.filePath('grounding-dino-tiny', 'model'), path.join(local, 'grounding-dino-tiny', 'model-fixedmask.onnx'));
    assert.deepEqual(await store.locate('grounding-dino-tiny'), { dir: path.join(local, 'grounding-dino-tiny'), source: 'local' });
  });

  test('built-in manifest: Hugging Face URLs, known sha256 of the fixed-mask export', () => {
    const gd = BUILTIN_MODELS.find((e) => e.id === 'grounding-dino-tiny');
    assert.ok(gd);
    assert.equal(gd.files[0].url, 'https://huggingface.co/mtbui2010/grounding-dino-tiny-fixedmask-ONNX/resolve/main/model-fixedmask.onnx');
    assert.equal(gd.files[0].sha256, 'ae9a0026953c6d5ce5a97b421af84c065d7f07173971cb105edb0071868fc180');
    const sam = BUILTIN_MODELS.find((e) => e.id === 'sam2.1-hiera-tiny-video');
    assert.deepEqual(sam?.files.map((f) => f.key), ['vision_encoder', 'mask_decoder', 'memory_encoder', 'memory_attention', 'pointer_tpos', 'constants']);
    for (const e of BUILTIN_MODELS) {
      for (const f of e.files.filter((x) => x.url !== '' && e.task !== 'audio-tagger')) {
        assert.match(f.url, /^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/main\//);
      }
    }
  });

  test('user manifest: entries validated with file and field named; default signatures filled in', async () => {
    const file = path.join(dir, 'models.json');
    await writeFile(file, JSON.stringify({ models: [{ id: 'my-sam', task: 'sam2-video', files: [{ key: 'vision_encoder', path: 'onnx/vision_encoder.onnx', url: 'https://x/y', sha256: null }] }] }));
    const [e] = await loadUserManifest(file);
    assert.equal(e.files[0].signature?.inputs[0].name, 'pixel_values');
    await writeFile(file, JSON.stringify([{ id: 'bad', task: 'detector', files: [{ key: 'm', path: 'm.onnx' }] }]));
    await assert.rejects(loadUserManifest(file), /models\.json: bad\.task must be one of/);
    await writeFile(file, JSON.stringify([{ id: 'bad', task: 'grounding-dino', files: [{ key: 'm', path: '../m.onnx' }] }]));
    await assert.rejects(loadUserManifest(file), /must stay inside the model folder/);
  });
});
