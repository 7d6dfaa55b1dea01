/** Cell parsing, outputs and the one cell runner shared by the VS Code controller and the CLI. */
export * from './parse';
export * from './notebook';
export * from './outputBuilder';
export * from './runCell';
export * from './record';
export * from './complete';
export * from './settingsMerge';
export * from './artifactPath';
export * from './outputSync';
