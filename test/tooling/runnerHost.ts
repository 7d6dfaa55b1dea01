import path from 'node:path';
import { makeRunnerHost } from '../../src/batch/cliHost';
import type { RunnerHost } from '../../src/batch/runner';
import { defaultSettings } from '../../src/pipeline/settings';

/**
 * The `alref eval` runner host the CLI builds, for tests: the LLM at a local test server (no retries),
 * models from `<base>/models` (fixture graphs), caches under `<base>/cache`, a silent log.
 */
export function testRunnerHost(base: string, llmBaseUrl: string): RunnerHost {
  const settings = defaultSettings({
    llm: { ...defaultSettings().llm, baseUrl: llmBaseUrl, timeoutMs: 20_000, maxRetries: 0 },
    models: { ...defaultSettings().models, localDir: path.join(base, 'models'), cacheDir: path.join(base, 'cache') },
  });
  const resourcesDir = path.resolve(__dirname, '../..');
  return makeRunnerHost({
    version: 'test',
    settings,
    resourcesDir,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    serviceEnv: (runDir) => ({ runDir, resourcesDir, userCacheDir: path.join(base, 'cache'), getSecret: async () => 'sk-local-test' }),
  });
}
