import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import {
  AUDIOSET_CLASS_COUNT, SILENCE_MID, ancestorNames, buildLabels, loadAudioSetLabels, parseClassLabels, rankLabels, splitCsvLine, unionTopK,
} from '../../../../src/pipeline/audio/labels';
import { labelFates, linkLabel, loadVocabulary, matchCategory, normalizeCategory } from '../../../../src/pipeline/audio/vocabulary';
import { PipelineError } from '../../../../src/pipeline/errors';

const root = path.resolve(__dirname, '../../../..');

suite('audio/labels: AudioSet classes, Silence zeroing, top-k', () => {
  test('the shipped table has 527 classes in output order; Silence is index 500 (/m/028v0c)', async () => {
    const labels = await loadAudioSetLabels(root);
    assert.equal(labels.classes.length, AUDIOSET_CLASS_COUNT);
    assert.equal(labels.silenceIndex, 500);
    assert.equal(labels.classes[500].mid, SILENCE_MID);
    assert.equal(labels.classes[1].name, 'Male speech, man speaking');
    assert.equal(labels.classes[74].name, 'Dog');
    assert.equal(labels.ontology.size, 632);
  });

  test('CSV fields with quotes and commas split correctly', () => {
    assert.deepEqual(splitCsvLine('1,/m/05zppz,"Male speech, man speaking"'), ['1', '/m/05zppz', 'Male speech, man speaking']);
    assert.deepEqual(splitCsvLine('a,"say ""hi""",c'), ['a', 'say "hi"', 'c']);
  });

  test('a table with a gap in the indices is rejected naming the line', () => {
    assert.throws(() => parseClassLabels('index,mid,display_name\n0,/m/a,A\n2,/m/b,B\n', 'x.csv'), (e: unknown) => {
      return e instanceof PipelineError && /x\.csv, line 3/.test(e.message);
    });
  });

  test('Silence is zeroed before ranking even when it is the top score', async () => {
    const labels = await loadAudioSetLabels(root);
    const p = new Float32Array(527);
    p[500] = 0.99;
    p[74] = 0.8;
    p[75] = 0.7;
    p[0] = 0.3;
    p[137] = 0.2;
    p[307] = 0.1;
    p[300] = 0.05;
    const top = rankLabels(p, labels);
    assert.equal(top.length, 5);
    assert.deepEqual(top.map((l) => l.name), ['Dog', 'Bark', 'Speech', 'Music', 'Car']);
    assert.ok(!top.some((l) => l.mid === SILENCE_MID));
    assert.ok(Math.abs(top[0].probability - 0.8) < 1e-6);
    assert.equal(rankLabels(p, labels, { topK: 2 }).length, 2);
    assert.equal(rankLabels(p, labels, { minProbability: 0.25 }).length, 3);
    assert.equal(rankLabels(p, labels, { zeroMids: [] })[0].mid, SILENCE_MID);
  });

  test('ties keep the lower class index first (deterministic)', async () => {
    const labels = await loadAudioSetLabels(root);
    const p = new Float32Array(527).fill(0.5);
    assert.deepEqual(rankLabels(p, labels).map((l) => l.index), [0, 1, 2, 3, 4]);
  });

  test('a score vector of the wrong length is a clear backend error', async () => {
    const labels = await loadAudioSetLabels(root);
    assert.throws(() => rankLabels(new Float32Array(521), labels), /521 scores.*527 classes/);
  });

  test('union of two checkpoints keeps each label once with its largest score and both sources', () => {
    const a = [{ index: 74, mid: 'd', name: 'Dog', probability: 0.6 }, { index: 0, mid: 's', name: 'Speech', probability: 0.3 }];
    const b = [{ index: 75, mid: 'b', name: 'Bark', probability: 0.7 }, { index: 74, mid: 'd', name: 'Dog', probability: 0.65 }];
    const u = unionTopK([{ taggerId: 'cpt1', labels: a }, { taggerId: 'cpt2', labels: b }]);
    assert.deepEqual(u.map((l) => l.name), ['Bark', 'Dog', 'Speech']);
    assert.deepEqual(u[1].sources, ['cpt1', 'cpt2']);
    assert.equal(u[1].probability, 0.65);
  });

  test('ontology ancestors: Bark -> Dog -> Domestic animals, pets -> Animal', async () => {
    const labels = await loadAudioSetLabels(root);
    const names = ancestorNames(labels, '/m/05tny_');
    assert.equal(names[0], 'Bark');
    assert.ok(names.includes('Dog'));
    assert.ok(names.includes('Domestic animals, pets'));
    assert.ok(names.includes('Animal'));
  });
});

suite('audio/vocabulary: category vocabulary and mapping', () => {
  test('the default vocabulary is the 70 AVSBench categories', async () => {
    const v = await loadVocabulary(undefined, { resourcesDir: root, baseDir: root });
    assert.equal(v.categories.length, 70);
    assert.equal(v.source, 'avsbench');
    assert.ok(v.categories.includes('emergency-car'));
  });

  test('a list from the cell is trimmed and de-duplicated; an empty one is an error', async () => {
    const v = await loadVocabulary([' Dog ', 'dog', 'cat', ''], { resourcesDir: root, baseDir: root });
    assert.deepEqual(v.categories, ['Dog', 'cat']);
    await assert.rejects(loadVocabulary([' '], { resourcesDir: root, baseDir: root }), /vocabulary.*empty/);
    await assert.rejects(loadVocabulary('missing.txt', { resourcesDir: root, baseDir: root }), (e: unknown) => e instanceof PipelineError && e.field === 'vocabulary');
  });

  const vocab = ['dog', 'man', 'woman', 'car', 'emergency-car', 'hair-dryer', 'guitar', 'violin', 'bus'];

  test('exact and normalised matches (case, plural, separators, articles)', () => {
    assert.deepEqual(matchCategory('Dog', vocab), { input: 'Dog', category: 'dog', how: 'exact', score: 1 });
    assert.equal(matchCategory('the dogs', vocab).category, 'dog');
    assert.equal(matchCategory('the dogs', vocab).how, 'normalized');
    assert.equal(matchCategory('Hair Dryer', vocab).category, 'hair-dryer');
    assert.equal(matchCategory('hair_dryers', vocab).category, 'hair-dryer');
    assert.equal(matchCategory('buses', vocab).category, 'bus');
    assert.equal(normalizeCategory('The Emergency Cars'), 'emergency-car');
  });

  test('a category not in the vocabulary maps to the nearest or is reported', () => {
    const typo = matchCategory('guitarr', vocab);
    assert.equal(typo.category, 'guitar');
    assert.equal(typo.how, 'nearest');
    const tokens = matchCategory('police car', vocab);
    assert.equal(tokens.category, 'car');
    assert.equal(tokens.how, 'nearest');
    const none = matchCategory('accordion', vocab);
    assert.equal(none.category, null);
    assert.equal(none.how, 'none');
  });

  test('labels link to categories by name or ontology ancestor', async () => {
    const labels = await loadAudioSetLabels(root);
    const cls = (i: number) => labels.classes[i];
    assert.deepEqual(linkLabel(cls(75), labels, vocab), ['dog']); // Bark -> Dog
    assert.deepEqual(linkLabel(cls(1), labels, vocab), ['man']); // Male speech, man speaking
    assert.deepEqual(linkLabel(cls(143), labels, vocab), ['guitar']); // Acoustic guitar -> Guitar
    assert.deepEqual(linkLabel(cls(137), labels, vocab), []); // Music
  });

  test('label fates: kept, merged (two labels, one object) and dropped', async () => {
    const labels = await loadAudioSetLabels(root);
    const ranked = [74, 75, 137, 1].map((i) => ({ ...labels.classes[i], probability: 0.5 }));
    const fates = labelFates(ranked, ['dog', 'man'], labels);
    assert.deepEqual(fates.map((f) => [f.label, f.fate]), [['Dog', 'merged'], ['Bark', 'merged'], ['Music', 'dropped'], ['Male speech, man speaking', 'kept']]);
  });

  test('buildLabels without an ontology still finds Silence', () => {
    const l = buildLabels([{ index: 0, mid: SILENCE_MID, name: 'Silence' }]);
    assert.equal(l.silenceIndex, 0);
    assert.deepEqual(ancestorNames(l, SILENCE_MID), ['Silence']);
  });
});
