import path from 'node:path';

/**
 * Resolves a renderer's artifact reference inside a notebook's run folder. Returns the absolute
 * path, or throws when the reference is absolute, empty, or leaves the run folder (`..`, symlink-free
 * check on the normalised path): a renderer can never read other files.
 */
export function resolveArtifactPath(runDir: string, ref: string): string {
  if (ref === '' || ref.includes('\0') || path.isAbsolute(ref) || /^[A-Za-z]:/.test(ref)) {
    throw new Error(`Artifact reference "${ref}" must be a relative path inside the run folder.`);
  }
  const root = path.resolve(runDir);
  const abs = path.resolve(root, ref);
  const rel = path.relative(root, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(`Artifact reference "${ref}" leaves the run folder.`);
  }
  return abs;
}

/** MIME type of an artifact by extension (what a renderer needs to build a Blob). */
export function artifactMime(file: string): string {
  const ext = path.extname(file).toLowerCase();
  switch (ext) {
    case '.jpg':
    case '.jpeg':
      return 'image/jpeg';
    case '.png':
      return 'image/png';
    case '.webp':
      return 'image/webp';
    case '.json':
      return 'application/json';
    default:
      return 'application/octet-stream';
  }
}
