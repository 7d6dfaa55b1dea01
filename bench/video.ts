/**
 * Video stage benchmarks (README "Benchmarks"): prints figures, asserts nothing.
 *   npm run bench -- video          (or: npx tsx bench/video.ts [frames] [WxH])
 * On a generated testsrc2 clip (default 2000 frames, 854x480, 30 fps, H.264) in a temp folder:
 * - plain ffmpeg: decode only (`-f null`), and decode to JPEG files (image2, same quality and
 *   frame mode as the pipeline): the floor for our decode;
 * - pipeline: probe + content hash + decodeFrames to a fresh run folder (frames/s), then a re-run
 *   that reuses the cache;
 * - sampling: RVOS clip plans for the video (plans/s);
 * - grid composition: one 5-frame grid per clip (ms per grid), the 10-frame AVS grid, the filmstrip;
 * - peak RSS of this Node process (the decode streams frames to disk, so it stays far below the
 *   size of all frames in memory, which is also printed).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { framePath } from '../src/pipeline/domain';
import type { ProgressEvent } from '../src/pipeline/events';
import { composeFilmstrip, composeGrid } from '../src/pipeline/draw/grid';
import { decodeFrames, type DecodeResult } from '../src/pipeline/media/decode';
import { resolveFfmpeg } from '../src/pipeline/media/ffmpeg';
import { probeSource } from '../src/pipeline/media/probe';
import { hashSourceFile } from '../src/pipeline/media/sourceHash';
import { planAvsFrames, planRvosClips, spreadIndices } from '../src/pipeline/sampling';
import { defaultSettings } from '../src/pipeline/settings';

const frames = Number(process.argv[2] ?? 2000);
const [W, H] = (process.argv[3] ?? '854x480').split('x').map(Number);
const fmt = (n: number, d = 1): string => n.toFixed(d);

function time(label: string, fn: () => void): number {
  const t0 = performance.now();
  fn();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(58)} ${fmt(s, 2)} s`);
  return s;
}

function sh(bin: string, args: string[]): void {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${bin} failed: ${r.stderr.slice(-1000)}`);
  }
}

async function drain(gen: AsyncGenerator<ProgressEvent, DecodeResult, void>): Promise<DecodeResult> {
  for (let r = await gen.next(); ; r = await gen.next()) {
    if (r.done) {
      return r.value;
    }
  }
}

async function main(): Promise<void> {
  const tools = resolveFfmpeg(defaultSettings());
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'alref-bench-video-'));
  try {
    console.log(`ffmpeg: ${tools.ffmpeg} (${tools.ffmpegFrom}); ${os.cpus().length} CPUs`);
    const clip = path.join(tmp, 'long.mp4');
    time(`generate ${frames} frames ${W}x${H} (testsrc2, x264 ultrafast)`, () =>
      sh(tools.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=30`, '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', clip]),
    );

    const nullS = time('plain ffmpeg: decode only (-f null)', () => sh(tools.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', clip, '-f', 'null', '-']));
    const plainDir = path.join(tmp, 'plain');
    mkdirSync(plainDir);
    const plainS = time('plain ffmpeg: decode to JPEG files (image2, -q:v 3)', () =>
      sh(tools.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', clip, '-map', '0:v:0', '-vsync', 'passthrough', '-q:v', '3', '-start_number', '0', path.join(plainDir, '%05d.jpg')]),
    );
    const plainCount = readdirSync(plainDir).length;

    const runDir = path.join(tmp, 'run');
    let t0 = performance.now();
    const probe = await probeSource(clip, tools);
    const probeS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const hash = await hashSourceFile(clip);
    const hashS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const decoded = await drain(decodeFrames(probe, tools, { runDir, sourceHash: hash, maxSide: 1920 }));
    const decodeS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const again = await drain(decodeFrames(probe, tools, { runDir, sourceHash: await hashSourceFile(clip), maxSide: 1920 }));
    const reuseS = (performance.now() - t0) / 1000;
    const n = decoded.manifest.frameCount;
    console.log(`${'pipeline: probe'.padEnd(58)} ${fmt(probeS, 3)} s`);
    console.log(`${'pipeline: content hash (sha256 of the file)'.padEnd(58)} ${fmt(hashS, 3)} s`);
    console.log(`${'pipeline: decodeFrames (all frames to JPEG)'.padEnd(58)} ${fmt(decodeS, 2)} s  = ${fmt(n / decodeS)} frames/s (${n} frames; plain ffmpeg ${plainCount} in ${fmt(plainS, 2)} s = ${fmt(plainCount / plainS)} frames/s; decode-only ${fmt(frames / nullS)} frames/s)`);
    console.log(`${'pipeline: re-run reusing the frame cache'.padEnd(58)} ${fmt(reuseS, 3)} s (reused: ${again.reused})`);

    t0 = performance.now();
    let plans = 0;
    for (let i = 0; i < 1000; i++) {
      plans += planRvosClips(n, 5, 5).length + planRvosClips(n, 10, 5).length;
    }
    const planS = (performance.now() - t0) / 1000;
    const clips = planRvosClips(n, 5, 5);
    console.log(`${'sampling: RVOS plans (interval 5 and 10)'.padEnd(58)} ${fmt((2 * 1000) / planS, 0)} plans/s (${clips.length} clips at interval 5; ${plans} clips planned)`);

    const frameOf = (i: number) => ({ path: framePath(decoded.framesDir, i), frameIndex: i, timeSec: decoded.manifest.times[i] });
    t0 = performance.now();
    for (const c of clips) {
      await composeGrid(c.frameIndices.map(frameOf), W, H);
    }
    const gridS = (performance.now() - t0) / 1000;
    console.log(`${'grids: one 5-frame grid per clip (JPEG q90)'.padEnd(58)} ${fmt((1000 * gridS) / clips.length, 1)} ms/grid (${clips.length} grids in ${fmt(gridS, 2)} s)`);
    t0 = performance.now();
    await composeGrid(planAvsFrames(n, 10)[0].frameIndices.map(frameOf), W, H);
    console.log(`${'grids: AVS 10-frame grid (two rows)'.padEnd(58)} ${fmt(performance.now() - t0, 1)} ms`);
    t0 = performance.now();
    await composeFilmstrip(spreadIndices(n, 12).map(frameOf), W, H);
    console.log(`${'filmstrip: 12 thumbnails'.padEnd(58)} ${fmt(performance.now() - t0, 1)} ms`);

    const rssMb = process.resourceUsage().maxRSS / 1024;
    console.log(`${'peak RSS of this process'.padEnd(58)} ${fmt(rssMb, 0)} MB (all ${n} frames as RGB would be ${fmt((n * W * H * 3) / 2 ** 20, 0)} MB)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
