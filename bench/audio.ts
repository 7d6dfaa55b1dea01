/**
 * Audio benchmarks (README "Benchmarks"): prints figures, asserts nothing.
 *   npx tsx bench/audio.ts
 * - fbank throughput: seconds of 16 kHz audio turned into the 128-bin BEATs input per wall-clock second;
 * - extraction: ffmpeg decode of media/samples/01_dog.mp4 to mono float PCM at 16 and 32 kHz.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { extractAudio } from '../src/pipeline/audio/extract';
import { kaldiFbank, normalizeBeatsFbank, scaleToInt16Range } from '../src/pipeline/audio/fbank';
import { resolveFfmpeg } from '../src/pipeline/media/ffmpeg';
import { defaultSettings } from '../src/pipeline/settings';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const rate = 16000;
  const seconds = 30;
  const wave = new Float32Array(rate * seconds);
  let seed = 12345;
  for (let i = 0; i < wave.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    wave[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / rate) + 0.1 * (seed / 2 ** 32 - 0.5);
  }
  kaldiFbank(scaleToInt16Range(wave.subarray(0, rate)));
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const f = normalizeBeatsFbank(kaldiFbank(scaleToInt16Range(wave)));
    times.push(performance.now() - t0);
    if (f.frames !== 2998) {
      throw new Error(`unexpected frame count ${f.frames}`);
    }
  }
  const ms = median(times);
  console.log(`fbank (128 bins, 16 kHz, x2^15 + BEATs normalisation): ${seconds} s of audio in ${ms.toFixed(1)} ms (median of 5) = ${((seconds * 1000) / ms).toFixed(0)} s of audio per second`);

  const tools = resolveFfmpeg(defaultSettings());
  const src = path.resolve(__dirname, '../media/samples/01_dog.mp4');
  for (const sr of [16000, 32000]) {
    const runs: number[] = [];
    let dur = 0;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const clip = await extractAudio(src, tools, { sampleRate: sr });
      runs.push(performance.now() - t0);
      dur = clip.durationSec;
    }
    console.log(`extraction (ffprobe + ffmpeg, ${tools.ffmpegFrom} ffmpeg) of 01_dog.mp4 (${dur.toFixed(2)} s, AAC stereo 48 kHz) to mono ${sr / 1000} kHz float: ${median(runs).toFixed(0)} ms (median of 3)`);
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
