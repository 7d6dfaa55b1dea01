/** Notebook file format: nbformat 4.5 JSON <-> {@link NotebookModel}. See `notebookFile.ts`. */
export * from './model';
export { parseNotebook, serializeNotebook, toNbformat, assignMissingIds, CELL_ID_PATTERN, DEFAULT_CODE_LANGUAGE, NBFORMAT, NBFORMAT_MINOR } from './notebookFile';
export type { ParseOptions } from './notebookFile';
export { exportIpynb } from './ipynb';
export { ERROR_MIME, STDOUT_MIME, STDERR_MIME, STORAGE_KEY, isJsonMime, isTextMime, isBinaryMime, errorItemBytes } from './outputs';
export { stringifySorted, splitLines, joinLines } from './json';
