import assert from 'node:assert/strict';
import { MUTATION_KINDS, runFuzz, summarize } from '../../../fuzz/notebookFuzz';

/**
 * The seeded fuzz run of the unit suite: 1,500 mutants of the demo notebook and of a Jupyter
 * notebook with attachments (byte flips, truncation, deep nesting, huge strings, alias bombs,
 * invalid UTF-8, JSON and YAML edits), every 150th also through `alref notebook run`. Each must
 * end in a clean parse (then written, read back byte-identical, with its unknown fields kept) or
 * a PipelineError naming the file; stage cells in diagnostics with positions. `npm run fuzz` runs
 * the same checks on 100,000+ mutants.
 */
suite('format: fuzzing the notebook and stage-cell parsers (seeded)', () => {
  test('1,500 mutants: named errors or clean parses, never an exception, never a write to the input', async function () {
    // Deterministic work of a few seconds; the limit only guards against a hang on a very busy machine.
    this.timeout(300_000);
    const report = await runFuzz({ seed: 20261129, count: 1500, maxHuge: 50_000, maxDepth: 3000, maxYamlDepth: 300, cliEvery: 150 });
    assert.deepEqual(report.failures, [], summarize(report));
    // The run really covered what it is about: both outcomes, every mutation, stage cells, runs.
    assert.ok(report.parsed > 300 && report.refused > 300, summarize(report));
    for (const kind of MUTATION_KINDS) {
      assert.ok(report.byKind[kind].mutants > 50, `${kind}: ${report.byKind[kind].mutants} mutants`);
    }
    assert.ok(report.byKind['alias-bomb'].parsed > 20 && report.byKind['invalid-utf8'].parsed > 20, 'mutated stage cells and bad bytes reached the cell parser');
    assert.ok(report.cellsRejected > 100, `${report.cellsRejected} stage cells rejected with diagnostics`);
    assert.ok(Object.keys(report.refusals).some((r) => /nest more than N levels/.test(r)), 'deep nesting was refused by name');
    assert.equal(report.cliRuns, 10);
  });
});
