import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../common/mime';
import type { CellCompletion } from '../pipeline/cells/complete';
import { completePromptCell, completeStageCell } from '../pipeline/cells/complete';
import { collectPromptOverrides, knownCells } from '../pipeline/cells/notebook';
import { cellLikes } from './convert';

const KIND: Record<string, vscode.CompletionItemKind> = {
  stage: vscode.CompletionItemKind.Class,
  field: vscode.CompletionItemKind.Property,
  value: vscode.CompletionItemKind.EnumMember,
  cell: vscode.CompletionItemKind.Reference,
};

function toItem(c: CellCompletion, position: vscode.Position): vscode.CompletionItem {
  const item = new vscode.CompletionItem(c.label, KIND[c.kind]);
  item.detail = c.detail;
  if (c.documentation) {
    item.documentation = new vscode.MarkdownString(c.documentation);
  }
  if (c.insertText) {
    item.insertText = c.insertText;
  }
  if (c.replaceFrom !== undefined) {
    // Template names hold ".", "-" and "/", which end a word: replace from where the value starts.
    item.range = new vscode.Range(position.line, c.replaceFrom, position.line, position.character);
  }
  return item;
}

/**
 * Completions in stage cells (stage kinds, fields per kind from the schemas, enum values, cell ids,
 * template names) and prompt cells (template names, the template's `{{variables}}`). Template names
 * include the variants the notebook's prompt cells define.
 */
export function registerCompletions(): vscode.Disposable {
  const provider: vscode.CompletionItemProvider = {
    provideCompletionItems(document, position) {
      const nb = vscode.workspace.notebookDocuments.find((n) => n.notebookType === NOTEBOOK_TYPE && n.getCells().some((c) => c.document === document));
      const cells = nb ? cellLikes(nb) : [];
      const defined = Object.keys(collectPromptOverrides(cells).overrides);
      const items = document.languageId === PROMPT_LANGUAGE
        ? completePromptCell(document.getText(), position.line, position.character, defined)
        : completeStageCell(document.getText(), position.line, position.character, knownCells(cells), defined);
      return items.map((c) => toItem(c, position));
    },
  };
  return vscode.languages.registerCompletionItemProvider([{ language: STAGE_LANGUAGE }, { language: PROMPT_LANGUAGE }], provider, ':', ' ', '{');
}
