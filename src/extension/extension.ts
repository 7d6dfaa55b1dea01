import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from '../common/mime';
import { registerCellIdKeeper } from '../notebook/cellIds';
import { registerNewCellLanguage } from '../notebook/cellLanguage';
import { registerCompletions } from '../notebook/completions';
import { AlrefController } from '../notebook/controller';
import { CellDiagnostics } from '../notebook/diagnostics';
import { registerRendererMessaging } from '../notebook/messaging';
import { AlrefNotebookSerializer, SERIALIZER_OPTIONS } from '../notebook/serializer';
import { NotebookSessions } from '../notebook/sessions';
import { StalenessStatusBar } from '../notebook/statusBar';
import { disposeSharedRuntimes } from '../pipeline/models/runtime';
import { createServices } from '../pipeline/services';
import { COMMANDS, type CommandDeps, type CommandHandlers, type CommandName, INTERNAL_COMMAND_CELL_STATUS_ITEMS } from './commandIds';
import { notebookCommands } from './commands';
import { readSettings } from './config';
import { llmCommands } from './llmCommands';
import { modelCommands } from './modelCommands';

/** Constructs the collaborators and registers them. No heavy work here: backends start on first run. */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('AL-Ref Notebooks', { log: true });
  const version = String((context.extension.packageJSON as { version?: string }).version ?? '0.0.0');
  const sessions = new NotebookSessions(context.globalStorageUri.fsPath);
  const settings = () => readSettings(log);
  const controller = new AlrefController({
    sessions,
    log,
    settings,
    version,
    resourcesDir: context.extensionPath,
    createServices: (s, runDir) =>
      createServices(s, {
        runDir,
        resourcesDir: context.extensionPath,
        userCacheDir: context.globalStorageUri.fsPath,
        getSecret: async (name) => context.secrets.get(`alref.${name}`),
        onNote: (m) => log.info(m),
        log,
      }),
  });
  const statusBar = new StalenessStatusBar(sessions, settings);
  context.subscriptions.push(
    log,
    sessions,
    vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new AlrefNotebookSerializer(), SERIALIZER_OPTIONS),
    controller,
    statusBar,
    vscode.notebooks.registerNotebookCellStatusBarItemProvider(NOTEBOOK_TYPE, statusBar),
    vscode.commands.registerCommand(INTERNAL_COMMAND_CELL_STATUS_ITEMS, (uri: vscode.Uri | string, index: number) => {
      const nb = vscode.workspace.notebookDocuments.find((d) => d.uri.toString() === uri.toString());
      const cell = nb?.cellAt(index);
      return cell ? statusBar.provideCellStatusBarItems(cell).map((i) => ({ text: i.text, tooltip: typeof i.tooltip === 'string' ? i.tooltip : undefined })) : [];
    }),
    new CellDiagnostics(sessions),
    registerCompletions(),
    registerCellIdKeeper(),
    registerNewCellLanguage(),
    registerRendererMessaging(sessions, log),
    // onnxruntime sessions are native resources: free them when the extension goes away
    { dispose: () => void disposeSharedRuntimes() },
  );
  const deps: CommandDeps = { context, log, sessions, settings };
  const handlers: CommandHandlers = { ...notebookCommands(deps), ...llmCommands(deps), ...modelCommands(deps) };
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    context.subscriptions.push(vscode.commands.registerCommand(COMMANDS[name], handlers[name]));
  }
}
