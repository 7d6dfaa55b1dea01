import assert from 'node:assert/strict';
import path from 'node:path';
import type { CellLike } from '../../../../src/pipeline/cells/notebook';
import { ExperimentRecorder } from '../../../../src/pipeline/cells/record';
import type { CellHostContext } from '../../../../src/pipeline/cells/runCell';
import { runNotebook } from '../../../../src/pipeline/cells/runNotebook';
import type { MissingModelAction } from '../../../../src/pipeline/cells/runNotebook';
import { createServices } from '../../../../src/pipeline/services';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { makeClip, tempDir } from '../../../tooling/media';
import type { TempDir } from '../../../tooling/media';
import { FIXTURE_IDS, writeModelFixtures } from '../../../tooling/onnxFixtures';

const repoRoot = path.resolve(__dirname, '../../../..');

/** A clip, its reference, fixed pivots, a typed box, propagate, then a cell that needs no model. */
const cells: CellLike[] = [
  { id: 'video', language: 'alref', source: 'stage: video\nid: video\nsource: clip.mp4\nfilmstripFrames: 0\n' },
  { id: 'reference', language: 'alref', source: 'stage: reference\nid: reference\nexpression: the pattern\n' },
  { id: 'pivot-frame', language: 'alref', source: 'stage: pivot-frame\nid: pivot-frame\nstrategy: first\n' },
  { id: 'pivot-box', language: 'alref', source: 'stage: pivot-box\nid: pivot-box\nstrategy: top-score\ncandidates: [[8, 8, 40, 32]]\n' },
  { id: 'propagate', language: 'alref', source: 'stage: propagate\nid: propagate\n' },
  { id: 'pivot-frame-last', language: 'alref', source: 'stage: pivot-frame\nid: pivot-frame-last\nstrategy: last\n' },
];

suite('cells: a notebook run with a model missing', () => {
  let tmp: TempDir;
  let host: CellHostContext;
  let cacheDir: string;
  setup(() => {
    tmp = tempDir('alref-runnb-models-');
    makeClip(path.join(tmp.path, 'clip.mp4'), { frames: 12, fps: 10 });
    cacheDir = path.join(tmp.path, 'cache');
    const settings = defaultSettings();
    settings.models.cacheDir = cacheDir;
    settings.models.localDir = '';
    host = {
      runDir: path.join(tmp.path, 'nb.alref.runs'),
      baseDir: tmp.path,
      resourcesDir: repoRoot,
      settings,
      services: createServices(settings, { runDir: path.join(tmp.path, 'nb.alref.runs'), resourcesDir: repoRoot, userCacheDir: tmp.path, getSecret: async () => undefined }),
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    };
  });
  teardown(() => tmp.remove());

  test('without a handler (the VS Code kernel) the cell fails and the run stops there', async () => {
    const run = await runNotebook({ cells, session: new NotebookSession(), host, recorder: new ExperimentRecorder() });
    assert.equal(run.status, 'error');
    assert.deepEqual(run.ran.map((r) => `${r.outcome.cellId} ${r.outcome.status}`), ['video ok', 'reference ok', 'pivot-frame ok', 'pivot-box ok', 'propagate error']);
    assert.equal(run.skipped, undefined);
  });

  test('retry: the host installs the model when asked, the cell runs again and succeeds', async () => {
    const asked: string[] = [];
    const run = await runNotebook({
      cells,
      session: new NotebookSession(),
      host,
      recorder: new ExperimentRecorder(),
      onMissingModel: async (modelId, cell): Promise<MissingModelAction> => {
        asked.push(`${modelId} for ${cell.id}`);
        await writeModelFixtures(cacheDir, { only: ['sam2'] });
        return { action: 'retry' };
      },
    });
    assert.deepEqual(asked, [`${FIXTURE_IDS.sam2} for propagate`]);
    assert.equal(run.status, 'ok', run.ran.map((r) => r.outcome.message ?? '').join(' '));
    assert.deepEqual(run.ran.map((r) => r.outcome.status), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });

  test('retry without installing is asked once: the second failure fails the cell', async () => {
    let asked = 0;
    const run = await runNotebook({
      cells,
      session: new NotebookSession(),
      host,
      recorder: new ExperimentRecorder(),
      onMissingModel: () => {
        asked++;
        return { action: 'retry' };
      },
    });
    assert.equal(asked, 1);
    assert.equal(run.status, 'error');
    assert.match(run.ran.at(-1)?.outcome.message ?? '', /alref models pull sam2\.1-hiera-tiny-video/);
  });

  test('skip: the cell is skipped with the model named, the run goes on and reports it', async () => {
    const run = await runNotebook({ cells, session: new NotebookSession(), host, recorder: new ExperimentRecorder(), onMissingModel: () => ({ action: 'skip' }) });
    assert.equal(run.status, 'ok');
    assert.deepEqual(run.ran.map((r) => `${r.outcome.cellId} ${r.outcome.status}`).slice(4), ['propagate skipped', 'pivot-frame-last ok']);
    assert.deepEqual(run.skipped, [{ cellId: 'propagate', kind: 'propagate', modelId: FIXTURE_IDS.sam2 }]);
  });
});
