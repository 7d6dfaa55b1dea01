import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseFirstBracketedInteger, parseLastBracketedInteger } from '../../../../src/pipeline/llm/parsers';

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

  test('randomised: any string gives a valid result or a typed failure, never a throw', () => {
    const reasons = new Set(['no-brackets', 'not-an-integer', 'empty']);
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
      }),
      { numRuns: 3000 },
    );
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
