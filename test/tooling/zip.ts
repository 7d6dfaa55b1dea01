/**
 * A strict reader for the zips the product writes (src/pipeline/benchmarks/writers.ts, through yazl): every
 * entry is found from the central directory, its local header must agree with it, and the inflated
 * bytes must have the size and CRC-32 the directory records, as `unzip -t` checks. Stored (0) and
 * deflated (8) entries only; no zip64, no encryption. Checked against a zip written by Python's
 * zipfile in test/unit/cli/commands/merge.test.ts.
 */
import { readFileSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Entry names (in directory order) and contents of a zip file or buffer. Throws on any mismatch. */
export function readZip(file: string | Buffer): Map<string, Buffer> {
  const buf = typeof file === 'string' ? readFileSync(file) : file;
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== EOCD) {
    eocd--;
  }
  if (eocd < 0) {
    throw new Error('no end-of-central-directory record');
  }
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== CENTRAL) {
      throw new Error(`central directory entry ${i} has no signature`);
    }
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (buf.readUInt32LE(local) !== LOCAL || buf.toString('utf8', local + 30, local + 30 + buf.readUInt16LE(local + 26)) !== name) {
      throw new Error(`${name}: the local header does not match the central directory`);
    }
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    if (method !== 0 && method !== 8) {
      throw new Error(`${name}: compression method ${method}`);
    }
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
    if (data.length !== size || crc32(data) !== crc) {
      throw new Error(`${name}: ${data.length} bytes with CRC-32 ${crc32(data)}, the directory says ${size} bytes with ${crc}`);
    }
    if (out.has(name)) {
      throw new Error(`${name} is in the zip twice`);
    }
    out.set(name, data);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
