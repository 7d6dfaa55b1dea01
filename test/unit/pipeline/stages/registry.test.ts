import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseStageCell } from '../../../../src/pipeline/cells/parse';
import { STAGES, STAGE_KINDS, STAGE_SCHEMAS, isStageKind } from '../../../../src/pipeline/stages/registry';
import { GENERATED_FILE, SCHEMA_DIR, readStageSchemas, renderStageParams } from '../../../../tools/stageParams';

const ROOT = path.resolve(__dirname, '../../../..');
const STAGES_DIR = path.join(ROOT, 'src/pipeline/stages');

suite('stage registry', () => {
  test('STAGE_KINDS are the registry keys, in pipeline order', () => {
    assert.deepEqual([...STAGE_KINDS], Object.keys(STAGES));
    assert.deepEqual([...STAGE_KINDS], ['video', 'reference', 'lbru', 'pivot-frame', 'pivot-box', 'propagate', 'evaluate', 'sweep']);
    assert.ok(STAGE_KINDS.every(isStageKind));
    assert.ok(!isStageKind('toString') && !isStageKind('pivot_box') && !isStageKind(undefined));
  });

  test('every registered kind has its schema file and a loader that gives a stage function', async () => {
    const files = readdirSync(path.join(ROOT, SCHEMA_DIR)).filter((n) => n.endsWith('.schema.json')).map((n) => n.slice(0, -'.schema.json'.length)).sort();
    assert.deepEqual(files, [...STAGE_KINDS].sort());
    for (const kind of STAGE_KINDS) {
      const file = JSON.parse(readFileSync(path.join(ROOT, SCHEMA_DIR, `${kind}.schema.json`), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(STAGE_SCHEMAS[kind], file, kind);
      assert.equal(file.title, `${kind} stage`);
      const fn = await STAGES[kind].load();
      assert.equal(typeof fn, 'function', kind);
      assert.equal(fn.constructor.name, 'AsyncGeneratorFunction', kind);
    }
  });

  test('no stage module imports the registry or the runner back', () => {
    for (const name of readdirSync(STAGES_DIR).filter((n) => n.endsWith('.ts') && !['registry.ts', 'index.ts'].includes(n))) {
      const text = readFileSync(path.join(STAGES_DIR, name), 'utf8');
      assert.doesNotMatch(text, /from '\.\/(registry|index)'|from '\.'/, name);
    }
  });

  test(`the parameter types (${GENERATED_FILE}) are up to date with the schemas: run \`npx tsx tools/gen-stage-params.ts\``, () => {
    assert.equal(readFileSync(path.join(ROOT, GENERATED_FILE), 'utf8'), renderStageParams(readStageSchemas(ROOT)));
  });

  test('the generator covers the schema forms the stages use', () => {
    const text = renderStageParams([['x-y', {
      type: 'object', additionalProperties: false, required: ['a'], description: 'Demo.',
      definitions: { pair: { type: 'array', items: { type: 'number' } } },
      properties: {
        a: { type: 'string', enum: ['p', "q'r"], description: 'An enum.' },
        b: { oneOf: [{ $ref: '#/definitions/pair' }, { type: 'object', properties: { c: { type: 'boolean' } } }] },
        'd-e': { type: 'integer' },
      },
    }]]);
    assert.match(text, /export type XYParams = \{\n {2}\/\*\* An enum\. \*\/\n {2}a: 'p' \| 'q\\'r';\n {2}b\?: number\[\] \| \{\n {4}c\?: boolean;\n {4}\[key: string\]: unknown;\n {2}\};\n {2}'d-e'\?: number;\n\};/);
  });

  for (const [yaml, field, other] of [
    ['stage: lbru\ntagger: a\ntaggers: [b]', 'taggers', 'tagger'],
    ['stage: reference\nexpression: a\nexpressions: [b]', 'expressions', 'expression'],
    ['stage: evaluate\ngroundTruth: gt\ndataset: { kind: mevis, root: r, item: v/0 }', 'groundTruth', 'dataset'],
  ] as const) {
    test(`the schema rejects "${field}" together with "${other}", naming the field where it is written`, () => {
      const r = parseStageCell(`${yaml}\n`, { cellId: 'c' });
      assert.ok(!r.ok);
      assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
      const [d] = r.diagnostics;
      assert.equal(d.field, field);
      assert.match(d.message, new RegExp(`^Field "${field}": .*"${other}".*"${field}"|^Field "${field}": .*"${field}".*"${other}"`));
      assert.equal(d.range.start.line, yaml.split('\n').findIndex((l) => l.startsWith(`${field}:`)));
      // either alone is fine
      const alone = yaml.split('\n').filter((l) => !l.startsWith(`${field}:`)).join('\n');
      assert.ok(parseStageCell(`${alone}\n`, { cellId: 'c' }).ok, alone);
    });
  }
});
