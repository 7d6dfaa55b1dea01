/** Cell parsing, outputs, the one cell runner and the one notebook run loop shared by the VS Code controller, the CLI and the dataset runner. */
export * from './parse';
export * from './notebook';
export * from './outputBuilder';
export * from './runCell';
export * from './record';
export * from './complete';
export * from './settingsMerge';
export * from './artifactPath';
export * from './outputSync';
export * from './runNotebook';
