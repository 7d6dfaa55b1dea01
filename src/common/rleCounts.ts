/**
 * The COCO / pycocotools compressed string form of RLE counts. Pure, no Node or DOM: the mask codec
 * (pipeline/masks/rle.ts) and the mask-overlay renderer both decode with it.
 */

/** pycocotools `rleFrString`: the inverse of `countsToString` (pipeline/masks/rle.ts). */
export function countsFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) {
        throw new Error('Truncated RLE string.');
      }
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) {
        throw new Error(`Invalid character "${s[p]}" in RLE string at ${p}.`);
      }
      // arithmetic rather than bit shifts: groups past 32 bits must not wrap
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10) !== 0) {
        x -= 2 ** (5 * k);
      }
    }
    if (counts.length > 2) {
      x += counts[counts.length - 2];
    }
    counts.push(x);
  }
  return counts;
}
