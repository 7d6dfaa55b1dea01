// Writes the fixture models into a folder laid out for `alref.models.localDir` (`<id>/<file>`), for
// the demo notebook and the in-host tests: node --import tsx test/tooling/writeModelFixtures.ts <dir>
import path from 'node:path';
import { writeModelFixtures } from './onnxFixtures';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node --import tsx test/tooling/writeModelFixtures.ts <dir>\n');
  process.exitCode = 2;
} else {
  void writeModelFixtures(path.resolve(dir)).then((d) => process.stdout.write(`${d}\n`));
}
