// Type entry points of ESM-only packages whose package.json has no "types" field, which the
// project's `moduleResolution: node10` cannot find through their "exports" map. Runtime resolution
// (tsx, esbuild) uses the exports map as usual.
declare module 'fast-png' {
  export * from 'fast-png/lib/index';
}
declare module 'linear-sum-assignment' {
  export * from 'linear-sum-assignment/lib/index';
}
