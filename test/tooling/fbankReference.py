#!/usr/bin/python3
"""Writes reference Kaldi fbank values for test/unit/pipeline/audio/fbank.test.ts.

The values come from an implementation independent of ours: torchaudio.compliance.kaldi.fbank
(Debian's python3-torchaudio). Run with the system Python, from the project root:

    /usr/bin/python3 test/tooling/fbankReference.py

Each case stores its input waveform (float32 little-endian, mono) and the expected features
(float32 little-endian, row-major [frames, bins]) under test/fixtures/audio/fbank/, plus one
index file (cases.json) with shapes and options. The waveform is stored, not regenerated, so that
the TypeScript test feeds exactly the samples torchaudio saw.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "audio", "fbank")
DOG = os.path.join(ROOT, "..", "shared", "data", "sam2-gallery", "01_dog.mp4")
FFMPEG = os.path.join(ROOT, "node_modules", "@ffmpeg-installer", "linux-x64", "ffmpeg")
SR = 16000
BEATS_MEAN = 15.41663
BEATS_STD = 6.55582


def chirp(seconds=1.0, f0=100.0, f1=7000.0, amp=0.5):
    t = np.arange(int(seconds * SR), dtype=np.float64) / SR
    k = (f1 - f0) / seconds
    return (amp * np.sin(2 * np.pi * (f0 * t + 0.5 * k * t * t))).astype(np.float32)


def noise(seconds, seed, amp=0.3):
    rng = np.random.RandomState(seed)
    return (amp * rng.uniform(-1.0, 1.0, int(seconds * SR))).astype(np.float32)


def decode(path, start=0.0, seconds=None):
    """Decodes a file the way the product does: first audio stream, mono, 16 kHz, float32."""
    cmd = [FFMPEG, "-v", "error", "-ss", str(start), "-i", path]
    if seconds is not None:
        cmd += ["-t", str(seconds)]
    cmd += ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SR), "-f", "f32le", "-"]
    pcm = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(pcm, dtype="<f4").copy()


def dog_video_excerpt():
    # The sample's AAC track is digital silence (ffmpeg volumedetect: -91 dB everywhere); kept as the
    # real-file case of the silence floor.
    return decode(DOG, 2.0, 1.0)


def bark_through_aac():
    """A bark-like signal (gliding harmonics in decaying bursts plus noise), made by ffmpeg, stored
    as stereo 48 kHz AAC in MP4 like the sample videos, then decoded to mono 16 kHz."""
    expr = ("0.6*exp(-12*mod(t,0.5))*(sin(2*PI*(500-300*mod(t,0.5))*t)+0.5*sin(4*PI*(500-300*mod(t,0.5))*t)"
            "+0.3*sin(6*PI*(500-300*mod(t,0.5))*t))/1.8+0.02*(random(0)-0.5)")
    with tempfile.TemporaryDirectory() as tmp:
        mp4 = os.path.join(tmp, "bark.mp4")
        subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"aevalsrc=exprs='{expr}':s=48000:d=1.5",
                        "-ac", "2", "-c:a", "aac", "-b:a", "128k", mp4], check=True)
        return decode(mp4)


def pluck_recording():
    """A real recording: CPython's test/audiodata/pluck-pcm32.wav (a plucked string, 0.3 s, 11025 Hz
    stereo; Python Software Foundation License), decoded to mono 16 kHz."""
    candidates = sorted(glob.glob("/root/.pyenv/versions/*/lib/python3*/test/audiodata/pluck-pcm32.wav")
                        + glob.glob("/usr/lib/python3*/test/audiodata/pluck-pcm32.wav"))
    if not candidates:
        sys.exit("pluck-pcm32.wav (CPython test data) not found")
    return decode(candidates[-1])


def fbank(wave, scale, bins, normalize, dtype):
    x = torch.from_numpy(wave.astype(dtype)).unsqueeze(0) * scale
    feats = kaldi.fbank(x, num_mel_bins=bins, sample_frequency=SR, frame_length=25.0,
                        frame_shift=10.0, dither=0.0)
    if normalize:
        feats = (feats - BEATS_MEAN) / (2 * BEATS_STD)
    return feats.numpy().astype("<f4")


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = [
        # name, waveform, int16 scaling, bins, BEATs normalisation, torch dtype.
        # A pure chirp has a stop band below float32 rounding (about 70 dB down), where a float32
        # reference only measures the FFT's rounding noise (up to 0.7 in log units between torch's
        # own float32 and float64 runs), so that case is computed in float64. The same holds for the
        # pluck recording: it was sampled at 11025 Hz, so its mel bins above 5.5 kHz are empty.
        ("chirp", chirp(), 2 ** 15, 128, False, np.float64),
        ("noise-seed1234", noise(0.8, 1234), 2 ** 15, 128, False, np.float32),
        ("noise-unscaled-23bins", noise(0.5, 99), 1.0, 23, False, np.float32),
        ("short-0.2s", noise(0.2, 7, amp=0.05), 2 ** 15, 128, False, np.float32),
        ("silence", np.zeros(4000, dtype=np.float32), 2 ** 15, 128, False, np.float32),
        ("dog-video-silent-beats", dog_video_excerpt(), 2 ** 15, 128, True, np.float32),
        ("bark-aac-beats", bark_through_aac(), 2 ** 15, 128, True, np.float32),
        ("pluck-recording", pluck_recording(), 2 ** 15, 128, False, np.float64),
    ]
    index = {"generator": "torchaudio.compliance.kaldi.fbank", "torchaudio": torchaudio.__version__,
             "torch": torch.__version__, "sampleRate": SR, "cases": []}
    for name, wave, scale, bins, normalize, dtype in cases:
        feats = fbank(wave, scale, bins, normalize, dtype)
        wave.astype("<f4").tofile(os.path.join(OUT, name + ".wave.f32"))
        feats.tofile(os.path.join(OUT, name + ".fbank.f32"))
        index["cases"].append({"name": name, "samples": int(wave.shape[0]), "scale": scale,
                               "numMelBins": bins, "beatsNormalized": normalize,
                               "frames": int(feats.shape[0]), "bins": int(feats.shape[1]),
                               "dtype": np.dtype(dtype).name})
        print(f"{name}: {wave.shape[0]} samples -> {feats.shape[0]}x{feats.shape[1]}", file=sys.stderr)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
