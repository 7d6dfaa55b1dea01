/**
 * Pivot-box in replay mode (prints figures, asserts nothing): `examples/demo.alref` (11 clips with
 * typed boxes, recorded exchanges, no network) run through the real CLI, three times; reported: the
 * pivot-box cell's time as the CLI prints it (median), and the executed notebook's size. Then the
 * image work of one clip on the demo's frames: painting the candidates, composing the image sent
 * (frame above the clip grid) and making the display-size copy the notebook stores.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { composePivotImage, paintBoxes } from '../src/pipeline/draw/boxes';
import { displayImage } from '../src/pipeline/run/displayImages';
import { copyDemo } from '../test/tooling/demoCopy';

const ROOT = path.resolve(__dirname, '..');
const RUNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'alref-bench-pivotbox-'));
  try {
    const file = copyDemo(tmp);
    const out = path.join(tmp, 'examples/demo.executed.alref');
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'notebook', 'run', file, '--out', out, '--missing-models', 'skip', '--set', `models.cacheDir=${path.join(tmp, 'models')}`], { cwd: ROOT, encoding: 'utf8' });
      const m = /running stage cell "pivot-box"[\s\S]*?done in ([\d.]+) s/.exec(r.stderr ?? '');
      if (r.status !== 0 || !m) {
        throw new Error(`demo run failed (${r.status}): ${(r.stderr ?? '').slice(-1500)}`);
      }
      times.push(Number(m[1]));
    }
    console.log(`pivot-box replay, demo (11 clips), ${RUNS} runs through the CLI: median ${median(times).toFixed(1)} s (${times.map((t) => t.toFixed(1)).join(', ')})`);
    console.log(`executed demo notebook: ${statSync(out).size} bytes`);

    // One clip's image work, on a demo frame and grid from the run folder the runs above filled.
    const runDir = path.join(tmp, 'examples/demo.alref.runs');
    const framesRoot = path.join(runDir, 'frames');
    const framesDir = path.join(framesRoot, readdirSync(framesRoot)[0]);
    const frame = new Uint8Array(readFileSync(path.join(framesDir, readdirSync(framesDir).sort()[5])));
    // A clip grid: a wide artifact (five tiles in a row).
    const artifacts = path.join(runDir, 'artifacts');
    let grid: Uint8Array | undefined;
    for (const f of readdirSync(artifacts, { recursive: true }).map(String).filter((n) => n.endsWith('.jpg')).sort()) {
      const bytes = new Uint8Array(readFileSync(path.join(artifacts, f)));
      const meta = await sharp(bytes).metadata();
      if ((meta.width ?? 0) > 5 * (meta.height ?? 1)) {
        grid = bytes;
        break;
      }
    }
    const boxes = [{ x0: 445, y0: 365, x1: 775, y1: 545 }, { x0: 220, y0: 204, x1: 436, y1: 556 }, { x0: 530, y0: 510, x1: 710, y1: 596 }];
    const t = { paint: [] as number[], compose: [] as number[], display: [] as number[] };
    for (let i = 0; i < 10; i++) {
      let t0 = performance.now();
      const painted = await paintBoxes(frame, boxes);
      t.paint.push(performance.now() - t0);
      t0 = performance.now();
      const composed = await composePivotImage(painted.bytes, 3, grid);
      t.compose.push(performance.now() - t0);
      t0 = performance.now();
      await displayImage({ type: 'image', mime: 'image/jpeg', data: composed.bytes }, runDir);
      t.display.push(performance.now() - t0);
    }
    console.log(`one clip's images (median of 10): paint ${median(t.paint).toFixed(1)} ms, compose the image sent ${median(t.compose).toFixed(1)} ms, display copy ${median(t.display).toFixed(1)} ms${grid ? '' : ' (no grid found: composed without one)'}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
