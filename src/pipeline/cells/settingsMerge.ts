import packageJson from '../../../package.json';
import type { PipelineSettings } from '../settings';

/** The JSON schema of one `alref.*` setting, as package.json contributes it. */
interface SettingSchema {
  type?: string | string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
}

const SETTING_SCHEMAS = (packageJson.contributes.configuration.properties ?? {}) as Record<string, SettingSchema>;

/**
 * What a value of a setting must be, in words, when it breaks the setting's schema in package.json
 * (enum, integer, minimum, maximum, null); undefined when it is fine or the setting has no schema.
 */
export function settingSchemaProblem(path: string, value: unknown): string | undefined {
  const schema = SETTING_SCHEMAS[`alref.${path}`];
  if (!schema) {
    return undefined;
  }
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (value === null) {
    return types.length === 0 || types.includes('null') ? undefined : `${types.join(' or ')}, not null`;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (typeof value === 'number') {
    const range = `${schema.minimum !== undefined ? ` of at least ${schema.minimum}` : ''}${schema.minimum !== undefined && schema.maximum !== undefined ? ' and' : ''}${schema.maximum !== undefined ? ` at most ${schema.maximum}` : ''}`;
    const what = `${types.includes('integer') && !types.includes('number') ? 'a whole number' : 'a finite number'}${range}`;
    if (!Number.isFinite(value) || (types.includes('integer') && !types.includes('number') && !Number.isInteger(value))) {
      return what;
    }
    if ((schema.minimum !== undefined && value < schema.minimum) || (schema.maximum !== undefined && value > schema.maximum)) {
      return what;
    }
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Keys never taken from configuration or `--set`: secrets only come from SecretStorage or the environment. */
const NEVER_FROM_CONFIG = new Set(['llm.apiKey']);

/**
 * The `typeof` a non-null value of a setting must have, from its package.json schema (`["integer",
 * "null"]` -> `number`); undefined when the schema does not name one. For the fields whose default is
 * `null` (unset), where the default cannot tell.
 */
export function schemaTypeof(path: string): string | undefined {
  const type = SETTING_SCHEMAS[`alref.${path}`]?.type;
  const types = (Array.isArray(type) ? type : type ? [type] : [])
    .filter((t) => t !== 'null')
    .map((t) => (t === 'integer' ? 'number' : t === 'array' ? 'object' : t));
  return types.length > 0 && types.every((t) => t === types[0]) ? types[0] : undefined;
}

/**
 * Deep-merges configuration values over settings. `get(path)` returns the value configured for a
 * dotted field path of {@link PipelineSettings} (`llm.baseUrl`, `models.executionProvider`), or
 * `undefined`. The VS Code side passes `alref.<path>` configuration, the CLI its `--set` values, so a
 * subsystem adds a setting by adding a field to the settings shape plus a package.json entry named
 * `alref.<path>`. A value of the wrong type, or one its package.json schema refuses (not one of the
 * enum's values, out of range, not a whole number), is reported through `onInvalid` and ignored.
 */
export function mergeSettings(
  base: PipelineSettings,
  get: (path: string) => unknown,
  onInvalid?: (path: string, value: unknown, expected: string) => void,
): PipelineSettings {
  const walk = (target: Record<string, unknown>, prefix: string): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...target };
    for (const key of Object.keys(target)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (NEVER_FROM_CONFIG.has(path)) {
        continue;
      }
      const current = target[key];
      const value = get(path);
      if (isPlainObject(current)) {
        let merged: Record<string, unknown> = current;
        if (value !== undefined) {
          if (isPlainObject(value)) {
            merged = { ...current, ...value };
          } else {
            onInvalid?.(path, value, 'an object');
          }
        }
        out[key] = Object.keys(current).length > 0 ? walk(merged, path) : merged;
        continue;
      }
      if (value === undefined) {
        continue;
      }
      const expected = current === null ? schemaTypeof(path) : typeof current;
      if (expected === undefined || typeof value === expected || value === null) {
        const problem = settingSchemaProblem(path, value);
        if (problem) {
          onInvalid?.(path, value, problem);
        } else {
          out[key] = value;
        }
      } else {
        onInvalid?.(path, value, expected);
      }
    }
    return out;
  };
  return walk(base as unknown as Record<string, unknown>, '') as unknown as PipelineSettings;
}

/**
 * Parses `key=value` pairs (CLI `--set`) into a dotted-path lookup. Values are JSON when they parse
 * (`5`, `true`, `null`, `{"a":1}`), else plain strings. A pair without `=` throws.
 */
export function parseSetPairs(pairs: readonly string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new Error(`--set expects key=value (for example llm.mode=replay), got "${pair}".`);
    }
    const key = pair.slice(0, eq).trim().replace(/^alref\./, '');
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out.set(key, value);
  }
  return out;
}

/** Every dotted leaf path of a settings object (for validating `--set` keys and listing them). */
export function settingPaths(settings: PipelineSettings): string[] {
  const out: string[] = [];
  const walk = (v: Record<string, unknown>, prefix: string): void => {
    for (const [k, x] of Object.entries(v)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (NEVER_FROM_CONFIG.has(p)) {
        continue;
      }
      if (isPlainObject(x) && Object.keys(x).length > 0) {
        walk(x, p);
      } else {
        out.push(p);
      }
    }
  };
  walk(settings as unknown as Record<string, unknown>, '');
  return out;
}

/** `metadata.alref` key with which a notebook chooses its own LLM mode (set by `alref.setLlmMode`). */
export const NOTEBOOK_LLM_MODE_KEY = 'llmMode';

/**
 * Applies what a notebook itself may choose to the settings: only the LLM mode
 * (`metadata.alref.llmMode`: live, record or replay), so a shared notebook with recorded exchanges
 * replays them. A notebook never chooses an endpoint, a key or a path.
 */
export function applyNotebookSettings(settings: PipelineSettings, notebookMetadata: Record<string, unknown> | undefined): PipelineSettings {
  const alref = notebookMetadata?.alref;
  const mode = isPlainObject(alref) ? alref[NOTEBOOK_LLM_MODE_KEY] : undefined;
  if (mode === 'live' || mode === 'record' || mode === 'replay') {
    return { ...settings, llm: { ...settings.llm, mode } };
  }
  return settings;
}
