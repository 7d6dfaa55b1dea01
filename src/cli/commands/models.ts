import path from 'node:path';
import type { Command } from 'commander';
import { PipelineError } from '../../pipeline/errors';
import { BUILTIN_MODELS, loadUserManifest, mergeManifests } from '../../pipeline/models/manifest';
import { modelCacheDir } from '../../pipeline/models/service';
import { ModelStore } from '../../pipeline/models/store';
import { defaultSettings } from '../../pipeline/settings';
import { userCacheDir } from '../env';
import { mb, pullWithProgress } from '../pullProgress';
import { interruptSignal } from '../signals';

interface StoreOptions {
  cacheDir?: string;
  localDir?: string;
  manifest?: string;
  json?: boolean;
}

/** The model store of a CLI run: `--cache-dir`/`ALREF_MODELS_CACHE_DIR`, `--local-dir`/`ALREF_MODELS_LOCAL_DIR`, `--manifest`. */
async function cliModelStore(o: StoreOptions): Promise<ModelStore> {
  const settings = defaultSettings().models;
  const cacheDir = o.cacheDir ?? process.env.ALREF_MODELS_CACHE_DIR ?? modelCacheDir(settings, userCacheDir());
  const localDir = o.localDir ?? process.env.ALREF_MODELS_LOCAL_DIR ?? '';
  const manifest = o.manifest ?? process.env.ALREF_MODELS_MANIFEST ?? '';
  const entries = manifest ? mergeManifests(BUILTIN_MODELS, await loadUserManifest(path.resolve(manifest))) : BUILTIN_MODELS;
  return new ModelStore({ cacheDir: path.resolve(cacheDir), localDir: localDir ? path.resolve(localDir) : undefined, entries, mirror: process.env.ALREF_MODELS_MIRROR || undefined });
}


function fail(err: unknown): void {
  process.stderr.write(`alref models: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof PipelineError && err.kind === 'missing-model' ? 3 : 1;
}

function storeOptions(cmd: Command): Command {
  return cmd
    .option('--cache-dir <dir>', 'download cache (default ~/.cache/alref/models; env ALREF_MODELS_CACHE_DIR)')
    .option('--local-dir <dir>', 'a folder holding <id>/<file> searched before the cache (env ALREF_MODELS_LOCAL_DIR)')
    .option('--manifest <file>', 'a JSON manifest with extra model entries (env ALREF_MODELS_MANIFEST)')
    .option('--json', 'print JSON');
}

/** `alref models list | pull | verify | path`: the model store from the command line. */
export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('List, download, verify and locate the ONNX models (SAM 2, GroundingDINO, audio taggers).');

  storeOptions(models.command('list').description('List known models, where they are and whether they are present.')).action(async (o: StoreOptions) => {
    try {
      const store = await cliModelStore(o);
      const rows = await Promise.all(
        store.list().map(async (e) => {
          const loc = await store.locate(e.id);
          const size = e.files.reduce<number | null>((a, f) => (a === null || f.size === null ? null : a + f.size), 0);
          return { id: e.id, task: e.task, licence: e.licence, size, present: loc ? loc.source : null, dir: loc?.dir ?? null, title: e.title, homepage: e.homepage };
        }),
      );
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const r of rows) {
        process.stdout.write(`${r.present ? '*' : ' '} ${r.id.padEnd(30)} ${r.task.padEnd(15)} ${mb(r.size).padStart(9)}  ${r.licence.padEnd(11)} ${r.present ? `${r.present}: ${r.dir}` : 'not downloaded'}\n`);
      }
      process.stdout.write(`\n* = present. Cache: ${store.cacheDir}${store.localDir ? `; local folder: ${store.localDir}` : ''}\n`);
    } catch (err) {
      fail(err);
    }
  });

  storeOptions(models.command('pull').description('Download a model into the cache (resumes partial downloads, checks sha256; from the mirror ALREF_MODELS_MIRROR when set).'))
    .argument('<ids...>', 'model ids (see `alref models list`)')
    .action(async (ids: string[], o: StoreOptions) => {
      const interrupt = interruptSignal();
      const ac = { signal: interrupt.signal };
      try {
        const store = await cliModelStore(o);
        for (const id of ids) {
          const dir = await pullWithProgress(store, id, ac.signal);
          process.stdout.write(`${id}: ${dir}\n`);
        }
      } catch (err) {
        fail(err);
      } finally {
        interrupt.dispose();
      }
    });

  storeOptions(models.command('verify').description('Hash the files of a model and compare them with the manifest.'))
    .argument('<ids...>', 'model ids')
    .action(async (ids: string[], o: StoreOptions) => {
      try {
        const store = await cliModelStore(o);
        const out = [];
        let bad = false;
        for (const id of ids) {
          const v = await store.verify(id);
          out.push({ id, ...v });
          for (const f of v.files) {
            bad ||= Boolean(f.problem);
            if (!o.json) {
              const status = !f.exists ? 'MISSING' : f.sha256Ok === true ? 'ok (sha256)' : f.sha256Ok === false ? 'MISMATCH' : f.problem ? 'BAD' : 'present (no published sha256)';
              process.stdout.write(`${id} ${f.key.padEnd(16)} ${status}${f.problem && f.exists ? `: ${f.problem}` : ''}  ${f.path}\n`);
            }
          }
        }
        if (o.json) {
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        }
        process.exitCode = bad ? 2 : 0;
      } catch (err) {
        fail(err);
      }
    });

  storeOptions(models.command('path').description('Print the folder of a model (or one file with --file); exit 3 when it is missing.'))
    .argument('<id>', 'model id')
    .option('--file <key>', 'a file key, e.g. vision_encoder or model')
    .action(async (id: string, o: StoreOptions & { file?: string }) => {
      try {
        const store = await cliModelStore(o);
        if (o.file) {
          process.stdout.write(`${await store.filePath(id, o.file)}\n`);
          return;
        }
        const loc = await store.locate(id);
        if (!loc) {
          throw store.missing(store.entry(id));
        }
        process.stdout.write(`${loc.dir}\n`);
      } catch (err) {
        fail(err);
      }
    });
}
