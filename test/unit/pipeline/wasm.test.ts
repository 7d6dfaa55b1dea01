import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import wabt from 'wabt';
import { WasmKernels, WasmLayout } from '../../../src/pipeline/wasm';
import { renderWasmModule, WAT_FILES, wasmModulePath } from '../../../tools/wasmModules';

const root = path.resolve(__dirname, '..', '..', '..');

suite('pipeline/wasm: the hand-written WebAssembly modules', () => {
  test('each committed <name>.wasm.ts is what its .wat assembles to (npx tsx tools/gen-wasm.ts) and validates', async () => {
    assert.ok(WAT_FILES.length >= 2);
    for (const wat of WAT_FILES) {
      const committed = readFileSync(path.join(root, wasmModulePath(wat)), 'utf8');
      assert.equal(committed, await renderWasmModule(root, wat), `${wasmModulePath(wat)} is stale: run npx tsx tools/gen-wasm.ts`);
      const { WASM_BASE64 } = (await import(path.join(root, wasmModulePath(wat)))) as { WASM_BASE64: string };
      assert.ok(WebAssembly.validate(Buffer.from(WASM_BASE64, 'base64')), `${wat} does not validate`);
    }
  });

  test('memory grows on demand and keeps its contents; layout blocks are aligned and padded', async () => {
    const tools = await wabt();
    const mod = tools.parseWat('memory.wat', '(module (memory (export "memory") 1))');
    const k = new WasmKernels<object>(Buffer.from(mod.toBinary({}).buffer).toString('base64'));
    mod.destroy();
    const small = k.memory(100);
    assert.equal(small.byteLength, 65536);
    new Uint8Array(small)[5] = 42;
    const big = k.memory(200_000);
    assert.ok(big.byteLength >= 200_000);
    assert.equal(new Uint8Array(big)[5], 42);
    assert.equal(small.byteLength, 0, 'views of the old buffer are detached by the growth');
    const lay = new WasmLayout();
    assert.deepEqual([lay.take(1), lay.take(17), lay.take(0)], [0, 32, 80]);
  });
});
