import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMANDS, INTERNAL_COMMAND_CELL_STATUS_ITEMS } from '../../../src/extension/commandIds';

interface Manifest {
  contributes: { commands: Array<{ command: string; title: string }>; menus: Record<string, Array<{ command: string }>> };
}

const root = path.join(__dirname, '..', '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
const nls = JSON.parse(readFileSync(path.join(root, 'package.nls.json'), 'utf8')) as Record<string, string>;

suite('extension: one list of command ids', () => {
  test("package.json contributes exactly the commands the extension registers, in the list's order", () => {
    assert.deepEqual(manifest.contributes.commands.map((c) => c.command), Object.values(COMMANDS));
    assert.ok(!manifest.contributes.commands.some((c) => c.command === INTERNAL_COMMAND_CELL_STATUS_ITEMS), 'the internal command has no palette entry');
  });

  test('every contributed command has a localised title, and every menu entry names a contributed command', () => {
    for (const c of manifest.contributes.commands) {
      const key = /^%(.+)%$/.exec(c.title)?.[1];
      assert.ok(key && typeof nls[key] === 'string' && nls[key].length > 0, `${c.command}: title ${c.title} is not in package.nls.json`);
    }
    const ids = new Set<string>(Object.values(COMMANDS));
    for (const [menu, entries] of Object.entries(manifest.contributes.menus)) {
      for (const e of entries) {
        assert.ok(ids.has(e.command), `${menu} names ${e.command}, which is not a command of the extension`);
      }
    }
  });
});
