// The import-zone and no-cycle rules of .dependency-cruiser.cjs (run over src/ by `npm run lint`),
// tried on small trees written to a temporary folder: each rule must report the import it forbids,
// and a tree that keeps to the layers must pass.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ICruiseOptions, ICruiseResult, IConfiguration, IForbiddenRuleType } from 'dependency-cruiser';

const CONFIG_FILE = path.resolve(__dirname, '../../.dependency-cruiser.cjs');

/** A file tree: path relative to the tree root -> source text. */
type Tree = Record<string, string>;

/** A tree that keeps to the layers: every allowed arrow once, every file reached from an entry point. */
const LAYERED: Tree = {
  'src/common/mime.ts': "export const MIME = 'x';\n",
  'src/pipeline/logger.ts': 'export interface Logger { info(m: string): void }\n',
  'src/pipeline/types.ts': "import type { Logger } from './logger';\nexport interface StageContext { log: Logger }\n",
  'src/pipeline/media/decode.ts': "import { MIME } from '../../common/mime';\nexport const decode = () => MIME;\n",
  'src/pipeline/stages/video.ts':
    "import type { StageContext } from '../types';\nimport { decode } from '../media/decode';\nexport const runVideo = (_c: StageContext) => decode();\n",
  'src/pipeline/stages/registry.ts': "export const STAGES = { video: () => import('./video') };\n",
  'src/pipeline/cells/runCell.ts': "import { STAGES } from '../stages/registry';\nexport const runCell = () => STAGES;\n",
  'src/notebook/controller.ts': "import * as vscode from 'vscode';\nimport { runCell } from '../pipeline/cells/runCell';\nexport const c = [vscode, runCell];\n",
  'src/extension/extension.ts': "import { c } from '../notebook/controller';\nexport const activate = () => c;\n",
  'src/batch/runner.ts': "import { runCell } from '../pipeline/cells/runCell';\nimport { STAGES } from '../pipeline/stages/registry';\nexport const run = () => [runCell, STAGES];\n",
  'src/cli/main.ts': "import { run } from '../batch/runner';\nimport { runCell } from '../pipeline/cells/runCell';\nrun();\nrunCell();\n",
  'src/renderers/boxes/index.ts': "import { MIME } from '../../common/mime';\nimport { draw } from './render';\nexport const r = [MIME, draw];\n",
  'src/renderers/boxes/render.ts': 'export const draw = 1;\n',
};

interface Case {
  rule: string;
  /** Files added to (or replacing files of) {@link LAYERED}. */
  files: Tree;
  from: string;
  to: string;
}

/** One forbidden import per rule of the config. */
const CASES: Case[] = [
  {
    rule: 'common-imports-only-common',
    files: { 'src/common/mime.ts': "import { E } from '../pipeline/errors';\nexport const MIME = E;\n", 'src/pipeline/errors.ts': 'export const E = 1;\n' },
    from: 'src/common/mime.ts',
    to: 'src/pipeline/errors.ts',
  },
  {
    rule: 'pipeline-libraries-below-stages',
    files: { 'src/pipeline/media/decode.ts': "import { upstream } from '../stages/shared';\nexport const decode = () => upstream;\n", 'src/pipeline/stages/shared.ts': 'export const upstream = 1;\n' },
    from: 'src/pipeline/media/decode.ts',
    to: 'src/pipeline/stages/shared.ts',
  },
  {
    rule: 'stages-below-cells',
    files: {
      'src/pipeline/stages/video.ts': `${LAYERED['src/pipeline/stages/video.ts']}import { parse } from '../cells/parse';\nexport const p = parse;\n`,
      'src/pipeline/cells/parse.ts': 'export const parse = 1;\n',
    },
    from: 'src/pipeline/stages/video.ts',
    to: 'src/pipeline/cells/parse.ts',
  },
  {
    rule: 'cells-below-hosts',
    files: { 'src/pipeline/cells/runCell.ts': "import { STAGES } from '../stages/registry';\nimport { ids } from '../../notebook/cellIds';\nexport const runCell = () => [STAGES, ids];\n", 'src/notebook/cellIds.ts': 'export const ids = 1;\n' },
    from: 'src/pipeline/cells/runCell.ts',
    to: 'src/notebook/cellIds.ts',
  },
  {
    rule: 'notebook-is-a-host',
    files: { 'src/notebook/controller.ts': "import { run } from '../batch/runner';\nexport const c = run;\n" },
    from: 'src/notebook/controller.ts',
    to: 'src/batch/runner.ts',
  },
  {
    rule: 'cli-is-a-host',
    files: { 'src/cli/main.ts': "import { run } from '../batch/runner';\nimport { c } from '../notebook/controller';\nrun();\nvoid c;\n" },
    from: 'src/cli/main.ts',
    to: 'src/notebook/controller.ts',
  },
  {
    rule: 'batch-is-a-host',
    files: { 'src/cli/env.ts': 'export const env = 1;\n', 'src/batch/runner.ts': "import { env } from '../cli/env';\nexport const run = () => env;\n" },
    from: 'src/batch/runner.ts',
    to: 'src/cli/env.ts',
  },
  {
    rule: 'extension-is-a-host',
    files: { 'src/extension/extension.ts': "import { c } from '../notebook/controller';\nimport { run } from '../batch/runner';\nexport const activate = () => [c, run];\n" },
    from: 'src/extension/extension.ts',
    to: 'src/batch/runner.ts',
  },
  {
    rule: 'renderers-import-only-common',
    files: { 'src/renderers/boxes/render.ts': "import { decode } from '../../pipeline/media/decode';\nexport const draw = decode;\n" },
    from: 'src/renderers/boxes/render.ts',
    to: 'src/pipeline/media/decode.ts',
  },
  {
    rule: 'pure-code-no-vscode',
    files: { 'src/pipeline/media/decode.ts': "import * as vscode from 'vscode';\nexport const decode = () => vscode;\n" },
    from: 'src/pipeline/media/decode.ts',
    to: 'vscode',
  },
  {
    rule: 'src-not-to-test',
    files: { 'src/pipeline/media/decode.ts': "import { frames } from '../../../test/tooling/media';\nexport const decode = () => frames;\n", 'test/tooling/media.ts': 'export const frames = 1;\n' },
    from: 'src/pipeline/media/decode.ts',
    to: 'test/tooling/media.ts',
  },
  {
    // Type-only imports count: the cycle types.ts <-> logger.ts exists for the type checker alone.
    rule: 'no-circular',
    files: { 'src/pipeline/logger.ts': "import type { StageContext } from './types';\nexport interface Logger { info(m: string): void; ctx?: StageContext }\n" },
    from: 'src/pipeline/logger.ts',
    to: 'src/pipeline/types.ts',
  },
  {
    // Not an orphan (it imports decode.ts), but no entry point reaches it.
    rule: 'no-unreachable',
    files: { 'src/pipeline/media/index.ts': "export { decode } from './decode';\n" },
    from: 'src/pipeline/media/index.ts',
    to: 'src/pipeline/media/index.ts',
  },
];

async function loadConfig(): Promise<IConfiguration> {
  const mod = (await import(pathToFileURL(CONFIG_FILE).href)) as { default: IConfiguration };
  return mod.default;
}

/** Writes `tree` to a fresh folder, cruises its src/ with the config's rules and returns the result. */
async function cruiseTree(config: IConfiguration, tree: Tree, outputType?: ICruiseOptions['outputType']): Promise<ICruiseResult | string> {
  const { cruise } = await import('dependency-cruiser');
  const root = mkdtempSync(path.join(os.tmpdir(), 'alref-layers-'));
  try {
    for (const [file, text] of Object.entries(tree)) {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    }
    // The tree has no tsconfig.json of its own; resolution needs none (no path aliases).
    const { tsConfig: _tsConfig, ...options } = config.options ?? {};
    const result = await cruise(['src'], { ...options, baseDir: root, validate: true, ruleSet: { forbidden: config.forbidden as IForbiddenRuleType[] }, outputType });
    return result.output;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function violations(result: ICruiseResult | string): string[] {
  assert.equal(typeof result, 'object');
  return (result as ICruiseResult).summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

suite('import zones (.dependency-cruiser.cjs)', () => {
  test('a tree that keeps to the layers passes every rule', async () => {
    assert.deepEqual(violations(await cruiseTree(await loadConfig(), LAYERED)), []);
  });

  test('every rule of the config has a case below', async () => {
    const config = await loadConfig();
    assert.deepEqual((config.forbidden ?? []).map((r) => r.name).sort(), CASES.map((c) => c.rule).sort());
  });

  for (const c of CASES) {
    test(`${c.rule} reports ${c.from} -> ${c.to}`, async () => {
      const found = violations(await cruiseTree(await loadConfig(), { ...LAYERED, ...c.files }));
      assert.deepEqual(found, [`${c.rule}: ${c.from} -> ${c.to}`]);
    });
  }

  test('the report of `npm run lint:layers` names the rule, the file, the import and why', async () => {
    const config = await loadConfig();
    const text = await cruiseTree(config, { ...LAYERED, ...CASES[1].files }, 'err-long');
    assert.equal(typeof text, 'string');
    assert.match(text as string, /error pipeline-libraries-below-stages: src\/pipeline\/media\/decode\.ts → src\/pipeline\/stages\/shared\.ts/);
    const rule = (config.forbidden ?? []).find((r) => r.name === 'pipeline-libraries-below-stages');
    assert.ok(rule?.comment);
    assert.ok((text as string).replace(/\s+/g, ' ').includes(rule.comment.slice(0, 40)), text as string);
  });
});
