import * as vscode from 'vscode';
import { isCancellation } from '../pipeline/errors';
import { BUILTIN_MODELS, loadUserManifest, mergeManifests } from '../pipeline/models/manifest';
import { modelCacheDir } from '../pipeline/models/service';
import { ModelStore } from '../pipeline/models/store';
import { COMMANDS, type CommandDeps, type CommandHandlers } from './commandIds';

/**
 * Model store commands, the VS Code face of `alref models list | pull | verify | path`: downloads
 * run in a cancellable progress notification (a cancelled download resumes next time).
 */
export function modelCommands(deps: CommandDeps): CommandHandlers<'modelsPull' | 'modelsList' | 'modelsVerify' | 'modelsCopyPath'> {
  const { context } = deps;
  const store = async (): Promise<ModelStore> => {
    const s = deps.settings().models;
    const entries = s.manifestFile ? mergeManifests(BUILTIN_MODELS, await loadUserManifest(s.manifestFile)) : BUILTIN_MODELS;
    return new ModelStore({ cacheDir: modelCacheDir(s, context.globalStorageUri.fsPath), localDir: s.localDir || undefined, entries });
  };

  const pickModel = async (st: ModelStore, title: string, onlyMissing: boolean): Promise<string | undefined> => {
    const items = await Promise.all(
      st.list().map(async (e) => {
        const loc = await st.locate(e.id);
        const size = e.files.reduce<number | null>((a, f) => (a === null || f.size === null ? null : a + f.size), 0);
        return {
          label: e.id,
          description: `${e.task}${size !== null ? ` · ${Math.round(size / 1e6)} MB` : ''} · ${loc ? vscode.l10n.t('present ({0})', loc.source) : vscode.l10n.t('not downloaded')}`,
          detail: `${e.title} — ${e.licence}`,
          present: Boolean(loc),
        };
      }),
    );
    const shown = onlyMissing ? [...items.filter((i) => !i.present), ...items.filter((i) => i.present)] : items;
    return (await vscode.window.showQuickPick(shown, { title, matchOnDescription: true, matchOnDetail: true }))?.label;
  };

  const report = (err: unknown) => {
    if (isCancellation(err)) {
      void vscode.window.showInformationMessage(vscode.l10n.t('AL-Ref: download cancelled; running the command again resumes it.'));
      return;
    }
    deps.log.error(err instanceof Error ? err.message : String(err));
    void vscode.window.showErrorMessage(err instanceof Error ? err.message : String(err));
  };

  return {
    modelsPull: async (id?: string) => {
      try {
        const st = await store();
        const modelId = id ?? (await pickModel(st, vscode.l10n.t('AL-Ref: download which model?'), true));
        if (!modelId) {
          return;
        }
        const entry = st.entry(modelId);
        const dir = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('AL-Ref: downloading {0}', entry.id), cancellable: true },
          async (progress, token) => {
            const ac = new AbortController();
            const sub = token.onCancellationRequested(() => ac.abort());
            let lastPct = 0;
            let lastKey = '';
            try {
              return await st.pull(modelId, {
                signal: ac.signal,
                onProgress: (p) => {
                  if (p.key !== lastKey) {
                    lastKey = p.key;
                    lastPct = 0;
                  }
                  const pct = p.total ? (100 * p.received) / p.total : 0;
                  // withProgress takes increments; one file at a time, split evenly across files
                  const share = 100 / p.count;
                  const inc = ((pct - lastPct) * share) / 100;
                  lastPct = pct;
                  progress.report({
                    increment: inc > 0 ? inc : undefined,
                    message: `${p.key} (${p.index + 1}/${p.count}): ${Math.round(p.received / 1e6)}${p.total ? ` / ${Math.round(p.total / 1e6)}` : ''} MB`,
                  });
                },
              });
            } finally {
              sub.dispose();
            }
          },
        );
        deps.log.info(`Model ${modelId} is in ${dir}`);
        void vscode.window.showInformationMessage(vscode.l10n.t('AL-Ref: {0} is ready ({1}).', modelId, dir));
      } catch (err) {
        report(err);
      }
    },
    modelsList: async () => {
      try {
        const st = await store();
        const id = await pickModel(st, vscode.l10n.t('AL-Ref models (cache: {0})', st.cacheDir), false);
        if (id && !(await st.locate(id))) {
          await vscode.commands.executeCommand(COMMANDS.modelsPull, id);
        }
      } catch (err) {
        report(err);
      }
    },
    modelsVerify: async (id?: string) => {
      try {
        const st = await store();
        const modelId = id ?? (await pickModel(st, vscode.l10n.t('AL-Ref: verify which model?'), false));
        if (!modelId) {
          return;
        }
        const v = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('AL-Ref: hashing {0}', modelId) }, () => st.verify(modelId));
        const problems = v.files.filter((f) => f.problem);
        for (const f of v.files) {
          deps.log.info(`${modelId} ${f.key}: ${f.problem ?? (f.sha256Ok ? 'sha256 ok' : 'present (no published sha256)')} ${f.path}`);
        }
        if (problems.length > 0) {
          void vscode.window.showErrorMessage(vscode.l10n.t('AL-Ref: {0}: {1}', modelId, problems.map((f) => `${f.key} ${f.problem}`).join('; ')));
        } else {
          void vscode.window.showInformationMessage(vscode.l10n.t('AL-Ref: {0} verified ({1} files).', modelId, v.files.length));
        }
      } catch (err) {
        report(err);
      }
    },
    modelsCopyPath: async (id?: string) => {
      try {
        const st = await store();
        const modelId = id ?? (await pickModel(st, vscode.l10n.t('AL-Ref: copy the folder of which model?'), false));
        if (!modelId) {
          return;
        }
        const loc = await st.locate(modelId);
        if (!loc) {
          throw st.missing(st.entry(modelId));
        }
        await vscode.env.clipboard.writeText(loc.dir);
        void vscode.window.showInformationMessage(vscode.l10n.t('AL-Ref: copied {0}', loc.dir));
      } catch (err) {
        report(err);
      }
    },
  };
}
