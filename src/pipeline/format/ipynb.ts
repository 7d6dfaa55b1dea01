import type { NotebookModel } from './model';
import { nbformatText, toNbformat } from './notebookFile';

/**
 * Exports a notebook as a plain `.ipynb` (nbformat 4.5) for Jupyter tools: stage and prompt cells
 * become code cells that keep their language in `metadata.vscode.languageId`, outputs are kept
 * with every item written in full (no `.alref` storage pointers), and `language_info` says `yaml`
 * so viewers highlight stage cells. Pure: returns the file text.
 */
export function exportIpynb(model: NotebookModel): string {
  const nb = toNbformat(model, { dedupe: false });
  const metadata = nb.metadata as Record<string, unknown>;
  if (metadata.language_info === undefined) {
    metadata.language_info = { name: 'yaml' };
  }
  return nbformatText(nb);
}
