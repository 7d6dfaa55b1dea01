import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, STAGE_LANGUAGE } from '../common/mime';
import { completeStageCell } from '../pipeline/cells/complete';
import { knownCells } from '../pipeline/cells/notebook';
import { cellLikes } from './convert';

const KIND: Record<string, vscode.CompletionItemKind> = {
  stage: vscode.CompletionItemKind.Class,
  field: vscode.CompletionItemKind.Property,
  value: vscode.CompletionItemKind.EnumMember,
  cell: vscode.CompletionItemKind.Reference,
};

/** Completions in stage cells: stage kinds, fields per kind (from the schemas), enum values, cell ids. */
export function registerCompletions(): vscode.Disposable {
  return vscode.languages.registerCompletionItemProvider(
    { language: STAGE_LANGUAGE },
    {
      provideCompletionItems(document, position) {
        const nb = vscode.workspace.notebookDocuments.find((n) => n.notebookType === NOTEBOOK_TYPE && n.getCells().some((c) => c.document === document));
        const known = nb ? knownCells(cellLikes(nb)) : [];
        return completeStageCell(document.getText(), position.line, position.character, known).map((c) => {
          const item = new vscode.CompletionItem(c.label, KIND[c.kind]);
          item.detail = c.detail;
          if (c.documentation) {
            item.documentation = new vscode.MarkdownString(c.documentation);
          }
          if (c.insertText) {
            item.insertText = c.insertText;
          }
          return item;
        });
      },
    },
    ':',
    ' ',
  );
}
