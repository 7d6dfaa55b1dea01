/** Writes each `<name>.wasm.ts` from its `<name>.wat` (see tools/wasmModules.ts). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderWasmModule, WAT_FILES, wasmModulePath } from './wasmModules';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  for (const wat of WAT_FILES) {
    writeFileSync(path.join(root, wasmModulePath(wat)), await renderWasmModule(root, wat));
    console.log(`wrote ${wasmModulePath(wat)}`);
  }
}

void main();
