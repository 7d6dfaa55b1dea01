import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Fft } from '../../../../src/pipeline/audio/fft';
import {
  BEATS_FBANK_MEAN, BEATS_FBANK_STD, FLOAT32_EPSILON, fbankFrameCount, kaldiFbank, normalizeBeatsFbank, scaleToInt16Range,
} from '../../../../src/pipeline/audio/fbank';

const dir = path.resolve(__dirname, '../../../fixtures/audio/fbank');

interface RefCase {
  name: string;
  samples: number;
  scale: number;
  numMelBins: number;
  beatsNormalized: boolean;
  frames: number;
  bins: number;
}

function readF32(file: string): Float32Array {
  const buf = readFileSync(path.join(dir, file));
  // Copy into a fresh, aligned buffer.
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) {
    out[i] = buf.readFloatLE(i * 4);
  }
  return out;
}

const index = JSON.parse(readFileSync(path.join(dir, 'cases.json'), 'utf8')) as { cases: RefCase[]; generator: string };

suite('audio/fbank: Kaldi filterbank against torchaudio.compliance.kaldi.fbank', () => {
  test('the reference fixtures come from torchaudio and cover the BEATs chain', () => {
    assert.equal(index.generator, 'torchaudio.compliance.kaldi.fbank');
    assert.ok(index.cases.some((c) => c.beatsNormalized && c.numMelBins === 128));
    assert.ok(index.cases.length >= 5);
  });

  for (const c of index.cases) {
    test(`${c.name}: shape ${c.frames}x${c.bins} and max abs error <= 1e-3`, () => {
      const wave = readF32(`${c.name}.wave.f32`);
      const expected = readF32(`${c.name}.fbank.f32`);
      assert.equal(wave.length, c.samples);
      assert.equal(expected.length, c.frames * c.bins);
      const input = c.scale === 32768 ? scaleToInt16Range(wave) : wave;
      let feats = kaldiFbank(input, { numMelBins: c.numMelBins });
      assert.equal(feats.frames, c.frames, 'frame count');
      assert.equal(feats.bins, c.bins, 'bin count');
      assert.equal(fbankFrameCount(c.samples), c.frames);
      if (c.beatsNormalized) {
        feats = normalizeBeatsFbank(feats);
      }
      let maxErr = 0;
      let at = -1;
      for (let i = 0; i < expected.length; i++) {
        const e = Math.abs(feats.data[i] - expected[i]);
        if (e > maxErr) {
          maxErr = e;
          at = i;
        }
      }
      assert.ok(maxErr <= 1e-3, `max abs error ${maxErr} at frame ${Math.floor(at / c.bins)}, bin ${at % c.bins}`);
    });
  }

  test('silence floors every bin at log(float32 epsilon)', () => {
    const feats = kaldiFbank(new Float32Array(1600));
    assert.equal(feats.frames, 8);
    for (const v of feats.data) {
      assert.ok(Math.abs(v - Math.log(FLOAT32_EPSILON)) < 1e-5);
    }
  });

  test('a clip shorter than one 25 ms window gives zero frames, not an error', () => {
    assert.equal(kaldiFbank(new Float32Array(399)).frames, 0);
    assert.equal(kaldiFbank(new Float32Array(400)).frames, 1);
    assert.equal(kaldiFbank(new Float32Array(0)).data.length, 0);
  });

  test('BEATs normalisation is (x - 15.41663) / (2 * 6.55582) on a copy', () => {
    const feats = { frames: 1, bins: 2, data: new Float32Array([BEATS_FBANK_MEAN, BEATS_FBANK_MEAN + 2 * BEATS_FBANK_STD]) };
    const n = normalizeBeatsFbank(feats);
    assert.ok(Math.abs(n.data[0]) < 1e-6);
    assert.ok(Math.abs(n.data[1] - 1) < 1e-6);
    assert.equal(feats.data[0], Math.fround(BEATS_FBANK_MEAN), 'input untouched');
  });

  test('a pure tone puts its energy in the mel bin that holds its frequency', () => {
    const sr = 16000;
    const tone = (hz: number): number => {
      const w = new Float32Array(sr / 2);
      for (let i = 0; i < w.length; i++) {
        w[i] = 0.5 * Math.sin((2 * Math.PI * hz * i) / sr);
      }
      const f = kaldiFbank(scaleToInt16Range(w));
      const row = f.data.subarray(10 * f.bins, 11 * f.bins);
      return row.indexOf(Math.max(...row));
    };
    assert.ok(tone(3000) > tone(500) + 20, 'higher tone lands in a higher bin');
  });

  test('FFT matches a direct DFT', () => {
    const n = 16;
    const fft = new Fft(n);
    const x = Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) + 0.25 * i);
    const re = Float64Array.from(x);
    const im = new Float64Array(n);
    fft.transform(re, im);
    for (let k = 0; k < n; k++) {
      let r = 0;
      let q = 0;
      for (let t = 0; t < n; t++) {
        r += x[t] * Math.cos((-2 * Math.PI * k * t) / n);
        q += x[t] * Math.sin((-2 * Math.PI * k * t) / n);
      }
      assert.ok(Math.abs(re[k] - r) < 1e-9 && Math.abs(im[k] - q) < 1e-9, `bin ${k}`);
    }
    assert.throws(() => new Fft(12), /power of two/);
  });
});
