/** Video input: ffmpeg resolution, probing, decoding to a cached frame folder, source hashing. */
export { resolveFfmpeg, toolVersion, runCommand, KILL_GRACE_MS, type FfmpegTools, type ResolveOptions } from './ffmpeg';
export { probeSource, findFrameFiles, naturalCompare, rotationOf, isVariableFrameRate, type ProbeResult, type ProbeOptions } from './probe';
export { decodeFrames, decodeSize, readFrameManifest, frameCacheDir, MANIFEST_NAME, type FrameManifest, type DecodeOptions, type DecodeResult } from './decode';
export { hashSourceFile, hashFrameFiles, FULL_HASH_LIMIT } from './sourceHash';
export { pump } from './pump';
