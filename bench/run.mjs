// Runs every benchmark in bench/ (`*.ts` through tsx, `*.mjs` as is), one after another, so each
// part of the project only drops a file here. `npm run bench -- video` runs the files whose name
// contains "video". Benchmarks print figures; none asserts a speed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => (f.endsWith('.ts') || f.endsWith('.mjs')) && f !== 'run.mjs' && !f.endsWith('.d.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n=== bench/${f}`);
  const args = f.endsWith('.ts') ? ['--import', 'tsx', path.join(here, f)] : [path.join(here, f)];
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${f} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
