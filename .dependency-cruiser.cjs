// Import zones of src/ and the no-cycle rule, checked by `npm run lint` (and so by `npm test`):
//
//   src/common  <-  pipeline libraries  <-  src/pipeline/stages  <-  src/pipeline/cells  <-  notebook | cli | batch | extension
//   src/renderers (webview code) import only src/common.
//
// "Pipeline libraries" are everything under src/pipeline except stages/ and cells/: media, draw, imaging, masks,
// audio, llm, models, metrics, benchmarks, run, format and the root files (errors, events, types, domain,
// settings, sampling, services, session). An arrow points from a layer to the layers allowed to import it;
// no layer imports one above it. README.md ("Layout") points here.
//
// Run it alone with `npm run lint:layers`; a violation prints the rule's name, the importing file, the
// imported file and the rule's comment. test/unit/layers.test.ts tries every rule on a small tree.

/** What esbuild.mjs bundles: the extension, the CLI, the SAM 2 frame pre-processing worker and one bundle per renderer. */
const ENTRY_POINTS = ['^src/extension/extension\\.ts$', '^src/cli/main\\.ts$', '^src/pipeline/models/sam2/framePrep\\.worker\\.ts$', '^src/renderers/[^/]+/index\\.ts$'];
/** The front ends and the webview code: nothing in the layers below may import them. */
const ABOVE_CELLS = '^src/(notebook|cli|batch|extension|renderers)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycles make load order matter and hide which layer owns what. Type-only imports count too: ' +
        'move the shared type down to the lower module (or to src/pipeline/types.ts / src/common) instead.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'common-imports-only-common',
      severity: 'error',
      comment:
        'src/common holds the constants and payload shapes shared by the extension host and the webview ' +
        'renderers; it runs in both, so it may import nothing else from src/.',
      from: { path: '^src/common/' },
      to: { path: '^src/', pathNot: '^src/common/' },
    },
    {
      name: 'pipeline-libraries-below-stages',
      severity: 'error',
      comment:
        'Pipeline libraries (media, draw, imaging, masks, audio, llm, models, metrics, benchmarks, run, format and the ' +
        'root files of src/pipeline) are the building blocks stages call; they must not import stages, cells ' +
        'or any front end. Move the code the library needs down into the library (or into src/common).',
      from: { path: '^src/pipeline/', pathNot: '^src/pipeline/(stages|cells)/' },
      to: { path: [`^src/pipeline/(stages|cells)/`, ABOVE_CELLS] },
    },
    {
      name: 'stages-below-cells',
      severity: 'error',
      comment:
        'A stage turns parameters and upstream results into a result; parsing cells, building outputs and ' +
        'running notebooks happen above it in src/pipeline/cells. Stages must not import cells or front ends.',
      from: { path: '^src/pipeline/stages/' },
      to: { path: ['^src/pipeline/cells/', ABOVE_CELLS] },
    },
    {
      name: 'cells-below-hosts',
      severity: 'error',
      comment:
        'src/pipeline/cells (runCell, runNotebook, outputs, records) is the one execution path the VS Code ' +
        'kernel, the CLI and the dataset runner share; it must not depend on any of them.',
      from: { path: '^src/pipeline/cells/' },
      to: { path: ABOVE_CELLS },
    },
    {
      name: 'notebook-is-a-host',
      severity: 'error',
      comment:
        'src/notebook (VS Code kernel and serializer) is one front end over cells; it must not reach into the ' +
        'CLI, the batch runner or the extension entry point (the extension wires the notebook, not the reverse).',
      from: { path: '^src/notebook/' },
      to: { path: '^src/(cli|batch|extension|renderers)/' },
    },
    {
      name: 'cli-is-a-host',
      severity: 'error',
      comment:
        'src/cli is the terminal front end; it may start the batch runner (`alref eval`) but must not import ' +
        'the VS Code notebook or extension code, which needs a VS Code host.',
      from: { path: '^src/cli/' },
      to: { path: '^src/(notebook|extension|renderers)/' },
    },
    {
      name: 'batch-is-a-host',
      severity: 'error',
      comment:
        'src/batch (the `alref eval` dataset runner) sits beside the CLI over cells; the CLI calls it, so it ' +
        'must not import the CLI, nor the VS Code notebook or extension code.',
      from: { path: '^src/batch/' },
      to: { path: '^src/(cli|notebook|extension|renderers)/' },
    },
    {
      name: 'extension-is-a-host',
      severity: 'error',
      comment:
        'src/extension activates the notebook front end and registers commands; it must not import the CLI ' +
        'or the batch runner (shared code belongs in the pipeline layers below both).',
      from: { path: '^src/extension/' },
      to: { path: '^src/(cli|batch|renderers)/' },
    },
    {
      name: 'renderers-import-only-common',
      severity: 'error',
      comment:
        'src/renderers is webview code bundled for the browser; it may import only src/common (the payload ' +
        'shapes it draws) and other renderer files, never pipeline or host code.',
      from: { path: '^src/renderers/' },
      to: { path: '^src/', pathNot: '^src/(common|renderers)/' },
    },
    {
      name: 'pure-code-no-vscode',
      severity: 'error',
      comment:
        'Only src/notebook and src/extension run inside VS Code; the pipeline, the CLI, the batch runner, ' +
        'common and the renderers must run without it (eslint.config.mjs has the same rule).',
      from: { path: '^src/(pipeline|common|cli|batch|renderers)/' },
      to: { path: '^vscode$' },
    },
    {
      name: 'src-not-to-test',
      severity: 'error',
      comment: 'Shipped code must not import test or bench code.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-unreachable',
      severity: 'error',
      comment:
        'Every module must be reached from an entry point: the extension, the CLI, the frame pre-processing worker or a renderer (stages are ' +
        'reached through the loaders of src/pipeline/stages/registry.ts). A module none of them reaches is ' +
        'dead code (or an import someone forgot); this also covers orphans, modules with no imports either way.',
      from: { path: ENTRY_POINTS },
      to: { path: '^src/', pathNot: [...ENTRY_POINTS, '\\.d\\.ts$'], reachable: false },
    },
  ],
  options: {
    // Type-only imports are dependencies too: a cycle through `import type` is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|out)/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json', '.d.ts'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
