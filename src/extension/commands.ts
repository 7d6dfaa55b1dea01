import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, STAGE_LANGUAGE } from '../common/mime';
import { fromNotebookDocument } from '../notebook/convert';
import { exportIpynb } from '../pipeline/format/ipynb';
import type { CommandDeps, CommandHandlers } from './commandIds';


function activeAlrefNotebook(uri?: vscode.Uri): vscode.NotebookDocument | undefined {
  if (uri) {
    return vscode.workspace.notebookDocuments.find((n) => n.uri.toString() === uri.toString());
  }
  const nb = vscode.window.activeNotebookEditor?.notebook;
  return nb?.notebookType === NOTEBOOK_TYPE ? nb : undefined;
}

/**
 * Notebook document commands: `exportIpynb` (optional args: notebook URI, target URI; returns the
 * target URI) and `newNotebook` (opens an untitled notebook with an intro and a video cell).
 */
export function notebookCommands({ log }: CommandDeps): CommandHandlers<'exportIpynb' | 'newNotebook'> {
  return {
    exportIpynb: async (notebookUri?: vscode.Uri, target?: vscode.Uri) => {
      const nb = activeAlrefNotebook(notebookUri instanceof vscode.Uri ? notebookUri : undefined);
      if (!nb) {
        void vscode.window.showErrorMessage(vscode.l10n.t('Open an AL-Ref notebook to export it.'));
        return undefined;
      }
      let dest = target;
      if (!dest) {
        const suggested = nb.uri.scheme === 'file' ? vscode.Uri.file(nb.uri.fsPath.replace(/\.alref$/i, '') + '.ipynb') : undefined;
        dest = await vscode.window.showSaveDialog({ defaultUri: suggested, filters: { 'Jupyter Notebook': ['ipynb'] } });
      }
      if (!dest) {
        return undefined;
      }
      const text = exportIpynb(fromNotebookDocument(nb));
      if (dest.scheme === 'file') {
        await writeFile(dest.fsPath, text);
      } else {
        await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(text));
      }
      log.info(`Exported ${nb.uri.toString()} to ${dest.toString()}`);
      return dest;
    },
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
