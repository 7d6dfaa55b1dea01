import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLbruReply } from '../../../../src/pipeline/audio/lbruReply';

function entries(reply: string): Array<[string, number]> | string {
  const r = parseLbruReply(reply);
  return r.ok ? r.value.entries.map((e) => [e.category, e.frameId]) : r.reason;
}

suite('audio/lbruReply: parsing \'category\': frameId answers', () => {
  test('the reference form, one and several entries', () => {
    assert.deepEqual(entries("Step 1 ... so the answer is ['dog': 2]"), [['dog', 2]]);
    assert.deepEqual(entries("[ 'dog': 2, 'man': 4 ]"), [['dog', 2], ['man', 4]]);
  });

  test('quotes optional and of any kind; spaces and case kept for mapping', () => {
    assert.deepEqual(entries('[dog: 2, Man :4]'), [['dog', 2], ['Man', 4]]);
    assert.deepEqual(entries('["Dog": 3]'), [['Dog', 3]]);
    assert.deepEqual(entries('[‘hair dryer’: 1, “emergency-car”: 5]'), [['hair dryer', 1], ['emergency-car', 5]]);
    assert.deepEqual(entries("{'dog': '2'}"), [['dog', 2]]);
    assert.deepEqual(entries('[dog = frame 2]'), [['dog', 2]]);
  });

  test('several bracketed groups that together form the answer', () => {
    assert.deepEqual(entries("Answer: ['dog': 2], ['man': 4]"), [['dog', 2], ['man', 4]]);
    assert.deepEqual(entries("[{'dog': 2}, {'guitar': 1}]"), [['dog', 2], ['guitar', 1]]);
    assert.deepEqual(entries("['dog': 2]\nand\n['cat': 3]"), [['dog', 2], ['cat', 3]]);
  });

  test('bracketed groups without entries (a label list) do not hide the answer after them', () => {
    assert.deepEqual(entries("Labels: [Dog, Bark, Music]. Result: ['dog': 2, \"man\": 4, 'dog': 5]"), [['dog', 2], ['man', 4]]);
    assert.deepEqual(entries("{'acoustic guitar': 3}"), [['acoustic guitar', 3]]);
  });

  test('long replies: a 300,000-character group without a colon has no entries; the answer after 2 MB of reasoning is found', () => {
    assert.equal(entries(`[${'ab '.repeat(100_000)}]`), 'no-entries');
    assert.deepEqual(entries(`${'The dog barks and the man talks. '.repeat(64_000)}['dog': 2, 'man': 4]`), [['dog', 2], ['man', 4]]);
  });

  test('reasoning brackets before the answer are ignored; the last answer group wins', () => {
    const reply = "Frame [1] shows a dog. I first thought ['cat': 1].\nAfter checking frames [2] and [3]:\nFinal: ['dog': 3]";
    assert.deepEqual(entries(reply), [['dog', 3]]);
  });

  test('duplicates keep the first frame id and are reported', () => {
    const r = parseLbruReply("['dog': 2, 'Dog': 4, 'man': 1]");
    assert.ok(r.ok);
    assert.deepEqual(r.value.entries, [{ category: 'dog', frameId: 2 }, { category: 'man', frameId: 1 }]);
    assert.deepEqual(r.value.duplicates, ['Dog']);
  });

  test('without brackets, trailing bare lines are accepted', () => {
    const r = parseLbruReply('Reasoning about frames.\n\ndog: 2\n- man: 4\n');
    assert.ok(r.ok);
    assert.equal(r.value.form, 'lines');
    assert.deepEqual(r.value.entries.map((e) => e.category), ['dog', 'man']);
  });

  test('a reply with no entries is a clear failure', () => {
    assert.equal(entries(''), 'empty');
    assert.equal(entries('I cannot tell which object makes the sound.'), 'no-brackets');
    assert.equal(entries('The answer is [none].'), 'no-entries');
    assert.equal(entries('[]'), 'no-entries');
  });

  test('the span points at the answer in the reply', () => {
    const reply = "text ['dog': 2] tail";
    const r = parseLbruReply(reply);
    assert.ok(r.ok);
    assert.equal(reply.slice(r.span[0], r.span[1]), "['dog': 2]");
  });

  test('randomised: never throws, and a well-formed answer after arbitrary text is found', () => {
    const name = fc.stringMatching(/^[a-z][a-z-]{0,11}[a-z]$/);
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const r = parseLbruReply(text);
        assert.equal(typeof r.ok, 'boolean');
        if (r.ok) {
          assert.ok(r.value.entries.length > 0);
          for (const e of r.value.entries) {
            assert.ok(Number.isInteger(e.frameId) && e.frameId >= 0);
            assert.ok(e.category.length > 0);
          }
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }).map((s) => s.replace(/[[\]{}]/g, '')),
        fc.uniqueArray(fc.tuple(name, fc.integer({ min: 1, max: 10 })), { minLength: 1, maxLength: 4, selector: ([n]) => n }),
        fc.constantFrom("'", '"', ''),
        (prefix, list, q) => {
          const reply = `${prefix}\n[${list.map(([n, id]) => `${q}${n}${q}: ${id}`).join(', ')}]`;
          assert.deepEqual(entries(reply), list);
        },
      ),
      { numRuns: 300 },
    );
  });
});
