/** Notebook file format: nbformat 4.5 JSON <-> {@link NotebookModel}. See `notebookFile.ts`. */
export * from './model';
export { parseNotebook, serializeNotebook, toNbformat, assignMissingIds, CELL_ID_PATTERN, DEFAULT_CODE_LANGUAGE, NBFORMAT, NBFORMAT_MINOR } from './notebookFile';
export type { ParseOptions } from './notebookFile';
export { exportIpynb } from './ipynb';
export { ERROR_MIME, STDOUT_MIME, STDERR_MIME, STORAGE_KEY, isJsonMime, isTextMime, isBinaryMime, errorItemBytes } from './nbformatOutputs';
export { stringifySorted, splitLines, joinLines, MAX_JSON_DEPTH, formatJsonPath, jsonPathAt, findTooDeep } from './json';
export type { JsonPath } from './json';
export { EXTRA_FIELDS_KEY } from './extras';
export type { ExtraFields } from './extras';
export { decodeNotebookBytes, describeInvalidUtf8 } from './text';
export type { DecodedNotebook, InvalidUtf8 } from './text';
