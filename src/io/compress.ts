// Compression used by the readers and writers: raw deflate (zip members, TIFF), zlib (TIFF Adobe deflate,
// MetaImage), gzip (.nii.gz). fflate by default, so this runs in browsers; files.ts swaps in Node's zlib
// (native, about 3× faster) when the Node file layer is loaded.
import { inflateSync, deflateSync, unzlibSync, zlibSync, gzipSync, Gunzip } from 'fflate';
import { crc32Js } from './zip.js';

export interface CompressionBackend {
  /** raw deflate → bytes; `size` is the expected output length when known */
  inflate(data: Uint8Array, size?: number): Uint8Array;
  deflate(data: Uint8Array, level: number): Uint8Array;
  unzlib(data: Uint8Array, size?: number): Uint8Array;
  zlib(data: Uint8Array, level: number): Uint8Array;
  gunzip(data: Uint8Array): Uint8Array;
  gzip(data: Uint8Array, level: number): Uint8Array;
  /** CRC-32 (IEEE), continuing from `seed` */
  crc32(data: Uint8Array, seed?: number): number;
}

type Level = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
const lvl = (l: number) => Math.max(0, Math.min(9, Math.round(l))) as Level;

export const fflateBackend: CompressionBackend = {
  inflate: (d, size) => inflateSync(d, size !== undefined ? { out: new Uint8Array(size) } : undefined),
  deflate: (d, level) => deflateSync(d, { level: lvl(level) }),
  unzlib: (d, size) => unzlibSync(d, size !== undefined ? { out: new Uint8Array(size) } : undefined),
  zlib: (d, level) => zlibSync(d, { level: lvl(level) }),
  gunzip: gunzipMembers,
  gzip: (d, level) => gzipSync(d, { level: lvl(level), mtime: 0 }),
  crc32: (d, seed) => crc32Js(d, seed),
};

/**
 * gunzip that handles files of several gzip members (bgzip, concatenated .gz): fflate's one-shot gunzipSync
 * sizes its output from the last member's length field and would return a wrong, short result.
 */
function gunzipMembers(data: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  const g = new Gunzip((chunk) => {
    chunks.push(chunk);
  });
  g.push(data, true);
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

let backend: CompressionBackend = fflateBackend;

export function setCompressionBackend(b: CompressionBackend): void {
  backend = b;
}

export function compression(): CompressionBackend {
  return backend;
}
