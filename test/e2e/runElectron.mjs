#!/usr/bin/env node
// Runs the same in-host suites (out/integration/index.js) in a desktop VS Code through
// @vscode/test-electron, for contributors who have one. Desktop VS Code cannot be downloaded on the
// project's CI machines; there `npm run test:integration` runs the suites in the VS Code server.
//
// Which VS Code: $VSCODE_EXECUTABLE, else a machine install (/usr/share/code/code, `code` on PATH),
// else a copy cached by test-electron in .vscode-test/. `--download` lets test-electron download one.
// Without any, the run is skipped with a message (exit 0), since there is nothing to run it on.
// On Linux without a display, run it under xvfb-run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { repoRoot, requireBuilt } from './env.mjs';
import { makeScratch, prepareWorkspace } from './workspace.mjs';

function onPath(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Finds a desktop VS Code executable, or undefined. */
export function findVSCode() {
  const candidates = [process.env.VSCODE_EXECUTABLE, '/usr/share/code/code', '/usr/share/code-insiders/code-insiders', '/Applications/Visual Studio Code.app/Contents/MacOS/Electron'];
  const cli = onPath('code');
  if (cli) {
    // /usr/bin/code -> /usr/share/code/bin/code (a launcher script); the executable is two levels up.
    const real = realpathSync(cli);
    candidates.push(path.join(path.dirname(path.dirname(real)), 'code'));
  }
  const cache = path.join(repoRoot, '.vscode-test');
  if (existsSync(cache)) {
    for (const d of readdirSync(cache).filter((n) => n.startsWith('vscode-')).sort().reverse()) {
      candidates.push(path.join(cache, d, 'code'), path.join(cache, d, 'Visual Studio Code.app', 'Contents', 'MacOS', 'Electron'));
    }
  }
  return candidates.find((c) => c && existsSync(c));
}

async function main() {
  const download = process.argv.includes('--download');
  const vscodeExecutablePath = findVSCode();
  if (!vscodeExecutablePath && !download) {
    console.log('[test:electron] SKIPPED: no desktop VS Code executable found (set VSCODE_EXECUTABLE, install VS Code, or pass --download where the network allows).');
    console.log('[test:electron] The same suites run in the VS Code server with `npm run test:integration`.');
    return 0;
  }
  requireBuilt('dist/extension.js', 'out/integration/index.js');
  const scratch = makeScratch('electron');
  try {
    const workspace = prepareWorkspace(path.join(scratch.dir, 'workspace'));
    console.log(`[test:electron] VS Code: ${vscodeExecutablePath ?? '(download)'}; workspace copy: ${workspace}`);
    return await runTests({
      ...(vscodeExecutablePath ? { vscodeExecutablePath } : {}),
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: path.join(repoRoot, 'out', 'integration', 'index.js'),
      extensionTestsEnv: { ALREF_TEST_REPO_ROOT: repoRoot, ...(process.env.ALREF_TEST_GREP ? { ALREF_TEST_GREP: process.env.ALREF_TEST_GREP } : {}) },
      launchArgs: [
        workspace,
        '--disable-extensions',
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        '--user-data-dir', path.join(scratch.dir, 'user-data'),
        '--extensions-dir', path.join(scratch.dir, 'extensions'),
      ],
    });
  } finally {
    scratch.cleanup();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`[test:electron] ${err instanceof Error ? err.message : err}`);
    process.exitCode = 1;
  },
);
