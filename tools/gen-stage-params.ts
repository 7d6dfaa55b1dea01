/** Writes src/pipeline/stages/schemas/params.generated.ts from the stage schemas (see tools/stageParams.ts). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_FILE, readStageSchemas, renderStageParams } from './stageParams';

const root = path.resolve(__dirname, '..');
writeFileSync(path.join(root, GENERATED_FILE), renderStageParams(readStageSchemas(root)));
console.log(`wrote ${GENERATED_FILE}`);
