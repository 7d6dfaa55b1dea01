// Bundles the extension (node, cjs), the CLI (node, cjs), each renderer (browser, esm) and the
// in-host integration test suites. `tsc` only type-checks; it never produces what ships.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// Native or self-locating packages stay in node_modules and are required at run time.
const nodeExternal = ['vscode', 'onnxruntime-node', 'sharp', '@ffmpeg-installer/ffmpeg', '@ffprobe-installer/ffprobe', 'fluent-ffmpeg'];

/** Reports build results in the format VS Code's esbuild problem matcher expects. */
const problemMatcher = {
  name: 'esbuild-problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

const common = { bundle: true, minify: production, sourcemap: !production, logLevel: 'warning', plugins: [problemMatcher] };

const nodeEntries = { extension: 'src/extension/extension.ts', cli: 'src/cli/main.ts', framePrepWorker: 'src/pipeline/models/sam2/framePrep.worker.ts' };
const builds = [
  {
    ...common,
    entryPoints: Object.fromEntries(Object.entries(nodeEntries).filter(([, p]) => existsSync(p))),
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternal,
  },
];

const rendererRoot = 'src/renderers';
const rendererEntries = existsSync(rendererRoot)
  ? Object.fromEntries(
      readdirSync(rendererRoot)
        .filter((d) => existsSync(path.join(rendererRoot, d, 'index.ts')))
        .map((d) => [d, path.join(rendererRoot, d, 'index.ts')]),
    )
  : {};
if (Object.keys(rendererEntries).length > 0) {
  builds.push({
    ...common,
    entryPoints: rendererEntries,
    outdir: 'dist/renderers',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    loader: { '.css': 'text' },
  });
}

if (existsSync('test/integration/index.ts')) {
  builds.push({
    ...common,
    minify: false,
    sourcemap: true,
    // index.js plus one bundle per suite, so a suite is added by dropping a *.test.ts file here.
    entryPoints: {
      index: 'test/integration/index.ts',
      ...Object.fromEntries(
        readdirSync('test/integration', { recursive: true })
          .map((f) => String(f).split(path.sep).join('/'))
          .filter((f) => f.endsWith('.test.ts'))
          .map((f) => [f.slice(0, -'.ts'.length), `test/integration/${f}`]),
      ),
    },
    outdir: 'out/integration',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: [...nodeExternal, 'mocha'],
  });
}

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
