import * as vscode from 'vscode';
import { mergeSettings } from '../pipeline/cells/settingsMerge';
import { defaultSettings } from '../pipeline/settings';
import type { PipelineSettings } from '../pipeline/settings';

/** Configuration section: every `alref.<path>` setting maps onto the settings field at `<path>`. */
const CONFIG_SECTION = 'alref';

/**
 * Builds {@link PipelineSettings} from `alref.*` configuration. Keys mirror the settings shape
 * (`alref.llm.baseUrl` -> `settings.llm.baseUrl`, `alref.models.executionProvider` ->
 * `settings.models.executionProvider`), so a subsystem adds a setting by adding the field and a
 * package.json configuration entry named after its path; nothing here changes. Values of the wrong
 * type are logged and ignored. The API key is never read from configuration.
 */
export function readSettings(log?: vscode.LogOutputChannel, scope?: vscode.ConfigurationScope): PipelineSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, scope);
  return mergeSettings(
    defaultSettings(),
    (path) => {
      const inspected = config.inspect(path);
      if (!inspected) {
        return undefined;
      }
      // Prefer what the user set; fall back to the contributed default (which mirrors defaultSettings()).
      return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue ?? inspected.defaultValue;
    },
    (path, value, expected) => log?.warn(`Setting alref.${path} should be ${expected}; ignoring ${JSON.stringify(value)}.`),
  );
}
