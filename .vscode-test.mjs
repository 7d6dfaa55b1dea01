// Configuration for `@vscode/test-cli` (`npx vscode-test`) on machines with a desktop VS Code.
// It runs the same bundled suites as `npm run test:integration` (which uses the VS Code server from
// code-server) and `node test/e2e/runElectron.mjs`. Build first: `npm run build`.
// Plain objects are used so that this file loads without @vscode/test-cli installed; its
// `defineConfig` only adds types.
import path from 'node:path';
import { repoRoot } from './test/e2e/env.mjs';
import { makeScratch, prepareWorkspace } from './test/e2e/workspace.mjs';

// Cells write outputs and run folders: the tests open a throwaway copy of the fixtures.
const scratch = makeScratch('vscode-test');
process.once('exit', () => scratch.cleanup());
const workspaceFolder = prepareWorkspace(path.join(scratch.dir, 'workspace'));

export default [
  {
    label: 'integration',
    files: 'out/integration/**/*.test.js',
    workspaceFolder,
    ...(process.env.VSCODE_EXECUTABLE ? { useInstallation: { fromPath: process.env.VSCODE_EXECUTABLE } } : {}),
    launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
    env: { ALREF_TEST_REPO_ROOT: repoRoot },
    mocha: { ui: 'tdd', timeout: 120_000, color: true },
  },
];
