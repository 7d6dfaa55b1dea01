// Writes the sweep-matrix fixture notebook (`sweep-ui.alref`, one stored sweep output) and its run
// folder into a folder, for the UI test: node --import tsx test/tooling/writeSweepNotebook.ts <dir>
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeSweepNotebook } from './sweepFixture';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node --import tsx test/tooling/writeSweepNotebook.ts <dir>\n');
  process.exitCode = 2;
} else {
  mkdirSync(path.resolve(dir), { recursive: true });
  void writeSweepNotebook(path.resolve(dir)).then((f) => process.stdout.write(`${f}\n`));
}
