/**
 * The straightforward column-by-column `maskToCounts` (src/pipeline/masks/rle.ts) as it was before the
 * row-major transition scan, kept only as a test reference: the fast version must give the same counts.
 */

/** Run lengths of a row-major mask read in column-major order, starting with a background run. */
export function maskToCountsReference(mask: Uint8Array, width: number, height: number): number[] {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0, i = x; y < height; y++, i += width) {
      const v = mask[i] !== 0 ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}
