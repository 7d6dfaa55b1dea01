// The HTML report of the executed demo, as a reader opens it: "AL-Ref: Export as HTML Report" from the
// command palette on the open demo (the save dialog's suggested path, examples/demo.html, accepted with
// Enter), then the file opened from disk in a new page of the same headless Chromium, offline by
// construction (its Content-Security-Policy allows only data: images). Every image must have loaded, a
// reasoning trace must show its text with the answer highlighted, the page must have no script and log
// no policy violation. Screenshot: test-results/ui-html-report.png.
/* global document -- code inside report.evaluate runs in the browser */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand, until } from './workbench.mjs';

/**
 * @param {import('playwright-core').Page} page the workbench, with the executed demo as the active editor
 * @param {import('playwright-core').BrowserContext} browser
 * @param {string} workspace the workspace folder (the demo is examples/demo.alref in it)
 * @param {(msg: string) => void} say
 * @param {string} shot where the screenshot goes
 */
export async function checkHtmlReport(page, browser, workspace, say, shot) {
  const file = path.join(workspace, 'examples', 'demo.html');
  await runCommand(page, 'AL-Ref: Export as HTML Report');
  const dialog = page.locator('.quick-input-widget input');
  await dialog.waitFor({ state: 'visible', timeout: 30_000 });
  await until(async () => (await dialog.inputValue()).endsWith('demo.html'), 'the save dialog to suggest demo.html', 30_000, 250);
  await page.keyboard.press('Enter');
  await until(async () => existsSync(file) && statSync(file).size > 0, `${file} to be written`, 60_000, 500);
  await sleep(500);
  say(`HTML report written: examples/demo.html, ${(statSync(file).size / 1e6).toFixed(1)} MB`);

  const report = await browser.newPage();
  const problems = [];
  report.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) {
      problems.push(m.text());
    }
  });
  report.on('pageerror', (e) => problems.push(e.message));
  report.on('request', (r) => {
    if (!/^(file|data):/.test(r.url())) {
      problems.push(`request to ${r.url()}`);
    }
  });
  try {
    await report.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: 60_000 });
    const seen = await report.evaluate(async () => {
      const images = [...document.images];
      await Promise.all(images.map((i) => (i.complete ? undefined : new Promise((r) => { i.onload = r; i.onerror = r; }))));
      return {
        title: document.title,
        images: images.length,
        loaded: images.filter((i) => i.complete && i.naturalWidth > 0 && i.src.startsWith('data:image/')).length,
        scripts: document.scripts.length,
        traces: [...document.querySelectorAll('.trace pre')].map((p) => p.textContent ?? ''),
        answers: [...document.querySelectorAll('.trace mark.answer')].map((m) => m.textContent ?? ''),
        record: document.querySelector('table.record')?.textContent ?? '',
      };
    });
    if (seen.images === 0 || seen.loaded !== seen.images) {
      throw new Error(`HTML report: ${seen.loaded} of ${seen.images} images loaded`);
    }
    if (seen.traces.filter((t) => t.includes('Step 1.')).length < 12) {
      throw new Error(`HTML report: expected the demo's reasoning traces, found ${seen.traces.length}: ${JSON.stringify(seen.traces.slice(0, 2))}`);
    }
    if (seen.answers.length === 0 || !seen.answers.every((a) => /^\[-?\d+\]$/.test(a))) {
      throw new Error(`HTML report: highlighted answers ${JSON.stringify(seen.answers)}`);
    }
    if (seen.scripts !== 0 || !/pivot-frame\.cot/.test(seen.record)) {
      throw new Error(`HTML report: ${seen.scripts} script(s); record: ${seen.record.slice(0, 200)}`);
    }
    if (problems.length > 0) {
      throw new Error(`HTML report: ${problems.join('; ')}`);
    }
    await report.locator('.trace').first().scrollIntoViewIfNeeded();
    await report.screenshot({ path: shot });
    say(`HTML report "${seen.title}": ${seen.loaded}/${seen.images} images loaded, ${seen.traces.length} traces, answers ${seen.answers.slice(0, 4).join(' ')}...; screenshot: ${path.basename(shot)}`);
  } finally {
    await report.close().catch(() => undefined);
  }
}
