// Starts the VS Code server shipped in the `code-server` npm package for tests, isolated from the
// machine: fresh user-data and extensions folders, HOME/XDG_* in a scratch folder, no marketplace,
// telemetry, updates or AI features; its whole process group is killed on stop.
// Recipe: test/e2e/README.md (code-server's VS Code server driven by Debian Chromium).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** User settings for a quiet, deterministic workbench. */
export const testSettings = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'workbench.enableExperiments': false,
  'workbench.settings.enableNaturalLanguageSearch': false,
  'workbench.tips.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.editor.enablePreview': false,
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'chat.agent.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'github.copilot.enable': { '*': false },
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'git.autoRepositoryDetection': false,
  'files.autoSave': 'off',
  'files.hotExit': 'off',
  'notebook.confirmDeleteRunningCell': false,
  'window.commandCenter': false,
};

/** Returns a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Environment for code-server and Chromium: the caller's, minus variables that would tie the run to
 * another VS Code, with HOME and XDG folders redirected into `scratch`.
 */
export function isolatedEnv(scratch, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VSCODE_|ELECTRON_|NODE_OPTIONS$|NODE_PATH$|npm_)/.test(k)) {
      continue;
    }
    env[k] = v;
  }
  const home = path.join(scratch, 'home');
  const dirs = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local', 'share'), XDG_CACHE_HOME: path.join(home, '.cache') };
  for (const d of Object.values(dirs)) {
    mkdirSync(d, { recursive: true });
  }
  return { ...env, ...dirs, EXTENSIONS_GALLERY: '{}', PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1', ...extra };
}

/** Installs a .vsix into `extensionsDir` with code-server's CLI; throws with its output on failure. */
export function installExtension(tools, { scratch, vsix, extensionsDir, userDataDir }) {
  const r = spawnSync(tools.node, [tools.codeServerEntry, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], {
    env: isolatedEnv(scratch),
    encoding: 'utf8',
    timeout: 5 * 60_000,
  });
  if (r.status !== 0) {
    throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return `${r.stdout}${r.stderr}`.trim();
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts code-server in its own process group (session) and waits for `/healthz`.
 *
 * @param {object} tools from `e2eEnv()`
 * @param {object} opts
 * @param {string} opts.scratch an empty folder this run owns
 * @param {boolean} [opts.smokeTestDriver] enable the workbench's test entry points (in-host tests)
 * @param {Record<string,string>} [opts.env] extra environment (reaches the extension host)
 * @param {string} [opts.extensionsDir] defaults to `<scratch>/extensions`
 * @param {number} [opts.startTimeoutMs] defaults to 90 s
 * @returns {Promise<{port:number, origin:string, pid:number, userDataDir:string, extensionsDir:string, logFile:string, tail:() => string, exited:Promise<number|null>, stop:() => Promise<void>}>}
 */
export async function startCodeServer(tools, opts) {
  const { scratch } = opts;
  const port = await freePort();
  const userDataDir = path.join(scratch, 'user-data');
  const extensionsDir = opts.extensionsDir ?? path.join(scratch, 'extensions');
  mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  writeFileSync(path.join(userDataDir, 'User', 'settings.json'), `${JSON.stringify({ ...testSettings, ...(opts.settings ?? {}) }, null, 2)}\n`);
  const config = path.join(scratch, 'code-server.yaml');
  writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);

  const args = [
    tools.codeServerEntry,
    '--config', config,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--reconnection-grace-time', '10',
  ];
  if (opts.smokeTestDriver) {
    args.push('--vscode-option', 'enable-smoke-test-driver');
  }
  const logFile = path.join(scratch, 'code-server.log');
  const log = createWriteStream(logFile);
  const tailLines = [];
  const keep = (chunk) => {
    log.write(chunk);
    for (const line of chunk.toString().split('\n')) {
      if (line.trim()) {
        tailLines.push(line);
      }
    }
    tailLines.splice(0, Math.max(0, tailLines.length - 60));
  };
  // detached: the child calls setsid(), so it leads a new process group we can kill as a whole.
  const child = spawn(tools.node, args, { cwd: scratch, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: isolatedEnv(scratch, opts.env) });
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const pgid = child.pid;
  let exitCode;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    exitCode = code ?? signal;
    resolve(code);
  }));

  // If this driver dies (timeout, error, Ctrl-C), the server must not outlive it.
  const killNow = () => {
    if (groupAlive(pgid)) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killNow);

  let stopped = false;
  const stop = async () => {
    if (stopped) {
      return;
    }
    stopped = true;
    if (groupAlive(pgid)) {
      try {
        process.kill(-pgid, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let i = 0; i < 50 && groupAlive(pgid); i++) {
        await sleep(100);
      }
      killNow();
    }
    process.removeListener('exit', killNow);
    await new Promise((resolve) => log.end(resolve));
  };

  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  for (;;) {
    if (exitCode !== undefined) {
      await stop();
      throw new Error(`code-server exited (${exitCode}) before it was healthy. Last output:\n${tailLines.join('\n')}`);
    }
    if ((await get(`${origin}/healthz`)) === 200) {
      break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer ${origin}/healthz in time. Last output:\n${tailLines.join('\n')}`);
    }
    await sleep(250);
  }
  return { port, origin, pid: pgid, userDataDir, extensionsDir, logFile, tail: () => tailLines.join('\n'), exited, stop };
}
