/**
 * Messages stay small and right whatever the input: "did you mean" hints are bounded (a huge unknown
 * value costs nothing and is not repeated whole), YAML's .inf gets a proper message, an unknown prompt
 * template blames `template`, and `--set` values are checked against the settings' schema.
 */
import assert from 'node:assert/strict';
import { cliSettings } from '../../../../src/cli/commands/notebook';
import { settingSchemaProblem } from '../../../../src/pipeline/cells/settingsMerge';
import { MAX_ECHO_LENGTH, boundedEditDistance, closest, parseStageCell, parsePromptCell } from '../../../../src/pipeline/cells/parse';
import { runCell } from '../../../../src/pipeline/cells/runCell';
import { PipelineError } from '../../../../src/pipeline/errors';
import { describePromptCell } from '../../../../src/pipeline/llm/promptCell';
import { createServices } from '../../../../src/pipeline/services';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';

/** Counts calls of String.prototype.toLowerCase on strings longer than 10,000 chars while `fn` runs (a hint lower-cases the word it compares). */
function countLongLowerCase<T>(fn: () => T): { value: T; calls: number } {
  const original = String.prototype.toLowerCase;
  let calls = 0;
  String.prototype.toLowerCase = function (this: string) {
    if (this.length > 10_000) {
      calls++;
    }
    return original.call(this);
  };
  try {
    return { value: fn(), calls };
  } finally {
    String.prototype.toLowerCase = original;
  }
}

function messages(source: string): string[] {
  const r = parseStageCell(source, { cellId: 'c1', cellIndex: 1 });
  assert.equal(r.ok, false);
  return r.diagnostics.map((d) => `${d.field ?? ''}|${d.message}`);
}

suite('bounded messages and suggestions', () => {
  test('a 3 MB unknown stage kind: no edit-distance work, the value is quoted cut to 80 chars with its length', () => {
    const huge = 'x'.repeat(3_000_000);
    const { value, calls } = countLongLowerCase(() => messages(`stage: ${huge}\n`));
    assert.equal(calls, 0, 'no suggestion is computed for the 3 MB value');
    assert.equal(value.length, 1);
    assert.ok(value[0].length < 400, `message of ${value[0].length} chars`);
    assert.match(value[0], new RegExp(`^stage\\|Unknown stage kind "x{${MAX_ECHO_LENGTH}}\\.\\.\\." \\(3000000 chars\\)\\. Stage kinds: `));
  });

  test('a huge unknown field name and a huge uses key are cut too, in the message and the field path', () => {
    const key = 'k'.repeat(100_000);
    const { value, calls } = countLongLowerCase(() => [...messages(`stage: video\nsource: a.mp4\n? ${key}\n: 1\n`), ...messages(`stage: pivot-frame\nuses:\n  ? ${key}\n  : c2\n`)]);
    assert.equal(calls, 0);
    assert.equal(value.length, 2);
    for (const m of value) {
      assert.ok(m.length < 700, `${m.length}: ${m.slice(0, 200)}`);
      assert.match(m, /\(100000 chars\)/);
    }
  });

  test('a huge string where a number is due is quoted cut, with its length', () => {
    const [m] = messages(`stage: video\nsource: a.mp4\ninterval: "${'9'.repeat(50_000)}"\n`);
    assert.ok(m.length < 300, m.slice(0, 300));
    assert.match(m, /^interval\|Field "interval" must be an integer, not string "9{80}\.\.\." \(50000 chars\)\.$/);
  });

  test('suggestions still work for typos, and the bounded distance agrees with the full one within the bound', () => {
    const original = String.prototype.charCodeAt;
    let reads = 0;
    String.prototype.charCodeAt = function (this: string, i: number) {
      reads++;
      return original.call(this, i);
    };
    try {
      boundedEditDistance('a'.repeat(5000), 'b'.repeat(5000), 3);
    } finally {
      String.prototype.charCodeAt = original;
    }
    assert.ok(reads < 100, `a banded distance with limit 3 stops at once when every row exceeds it (${reads} reads)`);
    assert.equal(closest('pivot-fram', ['video', 'pivot-frame', 'pivot-box']), 'pivot-frame');
    assert.equal(closest('intervall', ['interval', 'framesPerClip']), 'interval');
    assert.equal(closest('zzzzzzzz', ['video', 'pivot-frame']), undefined);
    assert.equal(closest('v'.repeat(65), ['v'.repeat(64)]), undefined, 'no hint past 64 characters');
    const full = (a: string, b: string): number => {
      const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
      for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
          d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
      }
      return d[a.length][b.length];
    };
    const words = ['', 'a', 'ab', 'video', 'vidoe', 'pivot-box', 'pivot-frame', 'propagate', 'evaluate', 'reference', 'refrence', 'lbru', 'xyzzy'];
    for (const a of words) {
      for (const b of words) {
        for (const limit of [0, 1, 2, 3, 5]) {
          const d = full(a, b);
          assert.equal(boundedEditDistance(a, b, limit), d <= limit ? d : limit + 1, `${a} / ${b} / ${limit}`);
        }
      }
    }
  });

  test('YAML .inf, -.inf and .nan for a numeric field: "must be a finite number, got .inf"', () => {
    assert.deepEqual(messages('stage: video\nsource: a.mp4\nstartSec: .inf\n'), ['startSec|Field "startSec" must be a finite number, got .inf.']);
    assert.deepEqual(messages('stage: video\nsource: a.mp4\nfps: -.inf\n'), ['fps|Field "fps" must be a finite number, got -.inf.']);
    assert.deepEqual(messages('stage: video\nsource: a.mp4\ninterval: .nan\n'), ['interval|Field "interval" must be a finite integer, got .nan.']);
  });

  test('an unknown prompt template blames the field "template", in the cell error too', async () => {
    assert.throws(() => describePromptCell('pivot-frame.fancy', 'x', '.'), (err: unknown) => err instanceof PipelineError && err.field === 'template');
    const long = `p${'q'.repeat(5000)}`;
    assert.throws(() => describePromptCell(long, 'x', '.'), (err: unknown) => err instanceof PipelineError && err.message.length < 600 && /\(5001 chars\)/.test(err.message));
    const settings = defaultSettings();
    const out = await runCell({
      cells: [{ id: 'p1', language: 'alref-prompt', source: 'template: pivot-frame.fancy\nWhich frame?\n' }],
      index: 0,
      session: new NotebookSession(),
      signal: new AbortController().signal,
      host: { runDir: '/nonexistent', baseDir: '.', resourcesDir: '.', settings, services: createServices(settings, { runDir: '/nonexistent', resourcesDir: '.', userCacheDir: '/nonexistent', getSecret: async () => undefined }), log: { info: () => undefined, warn: () => undefined, error: () => undefined } },
    });
    assert.equal(out.status, 'error');
    assert.match(out.message ?? '', /^Cell 1 \(id "p1"\), field "template": Unknown prompt template "pivot-frame\.fancy"/);
    const bad = parsePromptCell(`${'#'.repeat(10_000)}\nx`);
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.diagnostics[0].message.length < 300);
  });

  test('--set values are checked against the settings schema: enums, ranges, whole numbers, null', () => {
    assert.throws(() => cliSettings({ set: ['llm.mode=bogus'] }), /--set llm\.mode="bogus": expected one of "live", "record", "replay"/);
    assert.throws(() => cliSettings({ set: ['llm.imageDetail=ultra'] }), /expected one of "low", "high", "auto"/);
    assert.throws(() => cliSettings({ set: ['models.executionProvider=tpu'] }), /expected one of "cpu", "cuda"/);
    assert.throws(() => cliSettings({ set: ['llm.maxRetries=11'] }), /llm\.maxRetries=11: expected a whole number of at least 0 and at most 10/);
    assert.throws(() => cliSettings({ set: ['llm.maxTokens=1.5'] }), /llm\.maxTokens=1\.5: expected a whole number of at least 1/);
    // maxTokens is unset (null: no limit sent) by default, as the reference code; null stays accepted.
    assert.equal(cliSettings({ set: ['llm.maxTokens=2000', 'llm.maxTokens=null'] }).llm.maxTokens, null);
    assert.throws(() => cliSettings({ set: ['llm.mode=null'] }), /llm\.mode=null/);
    assert.throws(() => cliSettings({ set: ['llm.temperature=3'] }), /llm\.temperature=3: expected a finite number of at least 0 and at most 2/);
    const ok = cliSettings({ set: ['llm.mode=record', 'llm.temperature=null', 'llm.temperature=0.5', 'llm.imageDetail=low', 'llm.maxRetries=0'] });
    assert.deepEqual([ok.llm.mode, ok.llm.temperature, ok.llm.imageDetail, ok.llm.maxRetries], ['record', 0.5, 'low', 0]);
    assert.equal(settingSchemaProblem('llm.baseUrl', 'http://127.0.0.1:1/v1'), undefined);
    assert.equal(settingSchemaProblem('no.such.setting', 42), undefined);
  });
});
