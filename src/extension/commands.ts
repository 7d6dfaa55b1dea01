import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../common/mime';
import { fromNotebookDocument } from '../notebook/convert';
import { exportIpynb } from '../pipeline/format/ipynb';
import { newPromptCellSource } from '../pipeline/llm/promptCell';
import { runDirFor } from '../pipeline/run/runFolder';
import { TEMPLATE_VARIABLES, VARIANT_SEPARATOR, templateNames } from '../pipeline/llm/templates';
import type { CommandDeps, CommandHandlers } from './commandIds';

function activeAlrefNotebook(uri?: vscode.Uri): vscode.NotebookDocument | undefined {
  if (uri) {
    return vscode.workspace.notebookDocuments.find((n) => n.uri.toString() === uri.toString());
  }
  const nb = vscode.window.activeNotebookEditor?.notebook;
  return nb?.notebookType === NOTEBOOK_TYPE ? nb : undefined;
}

/** What `alref.insertPromptCell` takes from a script or test; a cell menu passes the cell instead. */
export interface InsertPromptCellArgs {
  /** The built-in template whose default text the cell starts with (asked with a QuickPick when absent). */
  template?: string;
  /** A label: the cell defines the variant `<template>/<label>`; empty or absent: it overrides the template. */
  variant?: string;
  /** The notebook (default: the active one). */
  notebook?: vscode.Uri;
  /** Where the cell goes (default: below the selected cell). */
  index?: number;
}

/** True for the cell a cell menu passes (an args object also has `notebook` and `index`, but a URI and no document). */
function isNotebookCell(v: unknown): v is vscode.NotebookCell {
  return typeof v === 'object' && v !== null && 'document' in v && 'notebook' in v && !((v as { notebook: unknown }).notebook instanceof vscode.Uri);
}

/** Asks for the template and (optionally) a variant label; undefined when the user cancels. */
async function askTemplate(): Promise<{ template: string; variant: string } | undefined> {
  const picked = await vscode.window.showQuickPick(
    templateNames().map((n) => ({ label: n, description: TEMPLATE_VARIABLES[n].map((v) => `{{${v}}}`).join(' ') })),
    { title: vscode.l10n.t('Insert prompt cell: template'), placeHolder: vscode.l10n.t('The template whose default text the new prompt cell starts with') },
  );
  if (!picked) {
    return undefined;
  }
  const variant = await vscode.window.showInputBox({
    title: vscode.l10n.t('Insert prompt cell: variant label'),
    prompt: vscode.l10n.t('Empty: the cell overrides {0} for the whole notebook. A label (e.g. v2): the cell defines {0}/<label>, which a stage cell chooses with "template:".', picked.label),
    validateInput: (v) => (v === '' || /^[A-Za-z0-9_.-]+$/.test(v) ? undefined : vscode.l10n.t('Letters, digits, ".", "-" and "_" only.')),
  });
  return variant === undefined ? undefined : { template: picked.label, variant };
}

/**
 * Writes the text `build` makes of a notebook (the given one, else the active one) to `target`, or to
 * a file chosen in a save dialog that suggests the notebook's name with `format.extension`. Returns
 * the target URI, or undefined when there is no notebook or the user cancels.
 */
async function exportNotebook(
  log: vscode.LogOutputChannel,
  notebookUri: vscode.Uri | undefined,
  target: vscode.Uri | undefined,
  format: { extension: string; filter: string },
  build: (nb: vscode.NotebookDocument) => string | Promise<string>,
): Promise<vscode.Uri | undefined> {
  const nb = activeAlrefNotebook(notebookUri instanceof vscode.Uri ? notebookUri : undefined);
  if (!nb) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Open an AL-Ref notebook to export it.'));
    return undefined;
  }
  let dest = target instanceof vscode.Uri ? target : undefined;
  if (!dest) {
    const suggested = nb.uri.scheme === 'file' ? vscode.Uri.file(`${nb.uri.fsPath.replace(/\.alref$/i, '')}.${format.extension}`) : undefined;
    dest = await vscode.window.showSaveDialog({ defaultUri: suggested, filters: { [format.filter]: [format.extension] } });
  }
  if (!dest) {
    return undefined;
  }
  const text = await build(nb);
  if (dest.scheme === 'file') {
    await writeFile(dest.fsPath, text);
  } else {
    await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(text));
  }
  log.info(`Exported ${nb.uri.toString()} to ${dest.toString()}`);
  return dest;
}

/**
 * Notebook document commands: `exportIpynb` and `exportHtml` (optional args: notebook URI, target
 * URI; return the target URI), `newNotebook` (opens an untitled notebook with an intro and a video cell) and
 * `insertPromptCell` (a prompt cell pre-filled with a template's default text; returns its index).
 */
export function notebookCommands({ log, context }: CommandDeps): CommandHandlers<'exportIpynb' | 'exportHtml' | 'newNotebook' | 'insertPromptCell'> {
  return {
    insertPromptCell: async (arg?: InsertPromptCellArgs | vscode.NotebookCell) => {
      const cell = isNotebookCell(arg) ? arg : undefined;
      const args: InsertPromptCellArgs = cell || typeof arg !== 'object' || arg === null ? {} : (arg as InsertPromptCellArgs);
      const nb = cell?.notebook ?? activeAlrefNotebook(args.notebook instanceof vscode.Uri ? args.notebook : undefined);
      if (!nb) {
        void vscode.window.showErrorMessage(vscode.l10n.t('Open an AL-Ref notebook to insert a prompt cell.'));
        return undefined;
      }
      const chosen = args.template ? { template: args.template, variant: args.variant ?? '' } : await askTemplate();
      if (!chosen) {
        return undefined;
      }
      const name = chosen.variant ? `${chosen.template}${VARIANT_SEPARATOR}${chosen.variant}` : chosen.template;
      let source: string;
      try {
        source = await newPromptCellSource(name, context.extensionPath);
      } catch (err) {
        void vscode.window.showErrorMessage(err instanceof Error ? err.message : String(err));
        return undefined;
      }
      const editor = vscode.window.visibleNotebookEditors.find((e) => e.notebook === nb);
      const index = Math.max(0, Math.min(nb.cellCount, args.index ?? (cell ? cell.index + 1 : editor && editor.selection.end > 0 ? editor.selection.end : nb.cellCount)));
      const edit = new vscode.WorkspaceEdit();
      edit.set(nb.uri, [vscode.NotebookEdit.insertCells(index, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, source, PROMPT_LANGUAGE)])]);
      if (!(await vscode.workspace.applyEdit(edit))) {
        return undefined;
      }
      editor?.revealRange(new vscode.NotebookRange(index, index + 1));
      return index;
    },
    exportIpynb: (notebookUri?: vscode.Uri, target?: vscode.Uri) =>
      exportNotebook(log, notebookUri, target, { extension: 'ipynb', filter: 'Jupyter Notebook' }, (nb) => exportIpynb(fromNotebookDocument(nb))),
    exportHtml: (notebookUri?: vscode.Uri, target?: vscode.Uri) =>
      exportNotebook(log, notebookUri, target, { extension: 'html', filter: 'HTML' }, async (nb) => {
        // Loaded on first use: the report brings markdown-it and sharp, which activation does not need.
        const { exportHtmlReport, pivotViewImages } = await import('../pipeline/cells/htmlReport');
        const model = fromNotebookDocument(nb);
        const images = nb.uri.scheme === 'file' ? await pivotViewImages(model, runDirFor(nb.uri.fsPath)) : new Map<string, Uint8Array>();
        return exportHtmlReport(model, {
          source: path.posix.basename(nb.uri.path),
          runFolder: nb.uri.scheme === 'file' ? path.basename(runDirFor(nb.uri.fsPath)) : undefined,
          readArtifact: (ref) => images.get(ref),
        });
      }),
    newNotebook: async () => {
      const intro = new vscode.NotebookCellData(vscode.NotebookCellKind.Markup, '# New AL-Ref notebook\n\nOne stage per cell; run them in order.', 'markdown');
      const video = new vscode.NotebookCellData(vscode.NotebookCellKind.Code, 'stage: video\nsource: path/to/video.mp4\nmode: rvos\n', STAGE_LANGUAGE);
      const data = new vscode.NotebookData([intro, video]);
      data.metadata = { alref: { formatVersion: 1 } };
      const doc = await vscode.workspace.openNotebookDocument(NOTEBOOK_TYPE, data);
      await vscode.window.showNotebookDocument(doc);
      return doc.uri;
    },
  };
}
