import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** The files `examples/demo.alref` needs, relative to the repository: the notebook, its recorded exchanges, the sample media. */
const DEMO_FILES = ['examples/demo.alref', 'examples/demo.alref.runs/exchanges', 'media/samples/01_dog.mp4', 'media/samples/davis-car-shadow'];

/**
 * Copies the demo as shipped into `dir`, at the same relative places, and returns the copied
 * notebook's path. Run it with `missingModels: 'skip'` and an empty `models.cacheDir` to get what
 * `npm run demo` does offline without SAM 2.
 */
export function copyDemo(dir: string): string {
  mkdirSync(path.join(dir, 'examples'), { recursive: true });
  mkdirSync(path.join(dir, 'media/samples'), { recursive: true });
  for (const rel of DEMO_FILES) {
    cpSync(path.join(ROOT, rel), path.join(dir, rel), { recursive: true });
  }
  return path.join(dir, 'examples/demo.alref');
}
