// Launches Debian's Chromium headless through playwright-core (never `playwright`: it downloads
// browsers) with a fresh profile in the run's scratch folder.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { isolatedEnv } from './codeServer.mjs';

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * @param {object} tools from `e2eEnv()`
 * @param {{scratch: string, viewport?: {width:number,height:number}}} opts
 * @returns {Promise<import('playwright-core').BrowserContext>}
 */
export async function launchBrowser(tools, opts) {
  const profile = path.join(opts.scratch, 'chromium-profile');
  mkdirSync(profile, { recursive: true });
  return chromium.launchPersistentContext(profile, {
    executablePath: tools.chromium,
    headless: true,
    args: chromiumArgs,
    env: isolatedEnv(opts.scratch),
    viewport: opts.viewport ?? { width: 1600, height: 1000 },
    deviceScaleFactor: 1,
    timeout: 60_000,
  });
}
