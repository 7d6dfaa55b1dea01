import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_CATEGORY_CHARS, parseFirstBracketedInteger, parseLastBracketedInteger, parseLbruEntries } from '../../../src/pipeline/llm/parsers';

suite('answer parsers', () => {
  test('RVOS: the LAST bracketed integer wins', () => {
    const reply = 'First I thought [2], but frame 4 is clearer. Answer: [4]';
    const r = parseLastBracketedInteger(reply);
    assert.ok(r.ok);
    assert.equal(r.value, 4);
    assert.deepEqual(r.span, [reply.lastIndexOf('[4]'), reply.length]);
    const neg = parseLastBracketedInteger('Nothing matches. [-1]');
    assert.ok(neg.ok && neg.value === -1);
    const spaced = parseLastBracketedInteger('[ 3 ]');
    assert.ok(spaced.ok && spaced.value === 3);
  });

  test('RVOS: no brackets, brackets with text, empty reply are typed failures', () => {
    assert.deepEqual(pick(parseLastBracketedInteger('I would pick the third frame.')), 'no-brackets');
    assert.deepEqual(pick(parseLastBracketedInteger('The answer is [frame 3]')), 'not-an-integer');
    assert.deepEqual(pick(parseLastBracketedInteger('[3] ... actually [three]')), 'not-an-integer');
    assert.deepEqual(pick(parseLastBracketedInteger('[3, 4]')), 'not-an-integer');
    assert.deepEqual(pick(parseLastBracketedInteger('   ')), 'empty');
  });

  test('AVS box: the first integer inside the first brackets', () => {
    const r = parseFirstBracketedInteger('[box 2] is the violin; not [3]');
    assert.ok(r.ok && r.value === 2);
    assert.equal(pick(parseFirstBracketedInteger('[none] [3]')), 'not-an-integer');
    assert.equal(pick(parseFirstBracketedInteger('box two')), 'no-brackets');
  });

  test("LBRU: 'category': frameId entries from the last group that has any", () => {
    const r = parseLbruEntries("Labels: [Dog, Bark, Music]. Result: ['dog': 2, \"man\": 4, 'dog': 5]");
    assert.ok(r.ok);
    assert.deepEqual(r.value, [{ category: 'dog', frameId: 2 }, { category: 'man', frameId: 4 }]);
    const one = parseLbruEntries("{'acoustic guitar': 3}");
    assert.ok(one.ok);
    assert.deepEqual(one.value, [{ category: 'acoustic guitar', frameId: 3 }]);
    assert.equal(pick(parseLbruEntries('[]')), 'no-entries');
    assert.equal(pick(parseLbruEntries('nothing here')), 'no-brackets');
  });

  test('randomised: any string gives a valid result or a typed failure, never a throw', () => {
    const reasons = new Set(['no-brackets', 'not-an-integer', 'empty', 'no-entries']);
    const answerish = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom('[', ']', '-', '+', '1', '9', ' ', 'a', ':', "'", '{', '}', '0') }),
      fc.tuple(fc.string(), fc.integer({ min: -5, max: 200 }), fc.string()).map(([a, n, b]) => `${a}[${n}]${b}`),
    );
    fc.assert(
      fc.property(answerish, (s) => {
        for (const r of [parseLastBracketedInteger(s), parseFirstBracketedInteger(s)]) {
          if (r.ok) {
            assert.ok(Number.isInteger(r.value));
            assert.ok(r.span[0] >= 0 && r.span[1] <= s.length && r.span[0] < r.span[1]);
            assert.ok(s.slice(r.span[0], r.span[1]).startsWith('['));
            assert.ok(s.slice(r.span[0], r.span[1]).includes(String(Math.abs(r.value))));
          } else {
            assert.ok(reasons.has(r.reason), r.reason);
            assert.equal(typeof r.message, 'string');
          }
        }
        const l = parseLbruEntries(s);
        if (l.ok) {
          assert.ok(l.value.length > 0);
          assert.ok(l.value.every((e) => e.category.length > 0 && Number.isInteger(e.frameId) && e.frameId >= 0));
        } else {
          assert.ok(reasons.has(l.reason));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('LBRU entries: the linear scan finds exactly what the reference regular expression finds', () => {
    // The original pattern, which backtracks quadratically on a long group without a colon.
    const reference = (reply: string): Array<{ category: string; frameId: number }> | undefined => {
      const groups = [...reply.matchAll(/[[{]([^[\]{}]*)[\]}]/g)];
      for (let g = groups.length - 1; g >= 0; g--) {
        const out: Array<{ category: string; frameId: number }> = [];
        const seen = new Set<string>();
        for (const m of groups[g][1].matchAll(/["'“‘]?([A-Za-z][A-Za-z0-9 ,()'/-]*?)["'”’]?\s*:\s*(\d{1,6})/g)) {
          if (m[1].length > MAX_CATEGORY_CHARS) {
            continue;
          }
          const category = m[1].trim().replace(/^[,\s]+/, '');
          if (category && !seen.has(category.toLowerCase())) {
            seen.add(category.toLowerCase());
            out.push({ category, frameId: Number.parseInt(m[2], 10) });
          }
        }
        if (out.length > 0) {
          return out;
        }
      }
      return undefined;
    };
    const alphabet = fc.constantFrom(...'ab Z9 ,()\'"/-:’”“‘[]{}\n\t12345678'.split(''));
    fc.assert(
      fc.property(fc.array(fc.oneof(alphabet, fc.constantFrom("'dog': 2", '"man" : 14', 'acoustic guitar:3', ': 1234567', 'long name '.repeat(9))), { maxLength: 40 }), (parts) => {
        const s = parts.join('');
        const r = parseLbruEntries(s);
        assert.deepEqual(r.ok ? r.value : undefined, reference(s), JSON.stringify(s));
      }),
      { numRuns: 5000 },
    );
  });

  test('LBRU entries: a 300,000-character group without a colon, and a 2 MB reply, parse (linear scan)', () => {
    assert.equal(pick(parseLbruEntries(`[${'ab '.repeat(100_000)}]`)), 'no-entries');
    assert.equal(pick(parseLbruEntries(`[${'ab '.repeat(100_000)}: 3]`)), 'no-entries', 'a 300,000-character "category" is no category');
    const big = parseLbruEntries(`${'The dog barks and the man talks. '.repeat(64_000)}['dog': 2, 'man': 4]`);
    assert.ok(big.ok);
    assert.deepEqual(big.value, [{ category: 'dog', frameId: 2 }, { category: 'man', frameId: 4 }]);
  });

  test('randomised: a reply ending in [n] always parses to n', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: -1, max: 99 }), (prefix, n) => {
        const r = parseLastBracketedInteger(`${prefix} [${n}]`);
        assert.ok(r.ok);
        assert.equal(r.value, n);
      }),
    );
  });
});

function pick(r: { ok: boolean; reason?: string }): string | undefined {
  return r.ok ? undefined : r.reason;
}
