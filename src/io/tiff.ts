// Multi-page TIFF volumes (pages = z, rows = y), read and written on Uint8Array (browser-safe). Own decoder:
// classic TIFF and BigTIFF, both byte orders (II/MM), strips and tiles, 1/8/16/32/64-bit unsigned, signed and
// float samples (SampleFormat), compression none / LZW / PackBits / Deflate (Adobe 8 and old-style 32946),
// horizontal (2) and floating-point (3) predictors. Single-channel only. Reduced-resolution pages (thumbnails)
// are skipped. Palette images (photometric 3) return their indices. ImageJ's `spacing=` / X-Y resolution give
// the voxel size when the stack is calibrated (unit other than "pixel").
// The writer makes little-endian classic TIFF, one strip per page, uncompressed or Deflate, with an ImageJ
// description (images, slices, spacing, unit) so ImageJ/Fiji open it as a stack with its voxel size.
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';
import { compression } from './compress.js';

export type TiffDtype = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type TiffData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface TiffVolume {
  /** [pages, height, width] = [z, y, x] */
  shape: [number, number, number];
  dtype: TiffDtype;
  data: TiffData;
  /** [sz, sy, sx]; [1, 1, 1] when the file is not calibrated */
  spacing: [number, number, number];
  /** Physical unit from an ImageJ description ('' when none) */
  unit: string;
  littleEndian: boolean;
  bigTiff: boolean;
  /** Compression codes by page (first page) */
  compression: number;
  description: string;
}

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  2: 'CCITT RLE',
  3: 'CCITT fax 3',
  4: 'CCITT fax 4',
  5: 'LZW',
  6: 'old JPEG',
  7: 'JPEG',
  8: 'Deflate',
  32773: 'PackBits',
  32946: 'Deflate (old)',
  34712: 'JPEG 2000',
  34887: 'LERC',
  34925: 'LZMA',
  50000: 'Zstandard',
  50001: 'WebP',
  50002: 'JPEG XL',
};

interface Ifd {
  tags: Map<number, number[] | string>;
}

function tiffError(label: string, msg: string): VesselError {
  return new VesselError(`${label}: ${msg}`);
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };

function readIfds(b: Uint8Array, label: string): { ifds: Ifd[]; le: boolean; big: boolean } {
  if (b.length < 8) throw tiffError(label, `not a TIFF file (${b.length} bytes)`);
  let le: boolean;
  if (b[0] === 0x49 && b[1] === 0x49) le = true;
  else if (b[0] === 0x4d && b[1] === 0x4d) le = false;
  else throw tiffError(label, 'not a TIFF file (wrong magic bytes)');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = dv.getUint16(2, le);
  let big: boolean;
  if (magic === 42) big = false;
  else if (magic === 43) big = true;
  else throw tiffError(label, `not a TIFF file (version ${magic})`);
  const u64 = (o: number) => {
    const hi = dv.getUint32(o + (le ? 4 : 0), le);
    const lo = dv.getUint32(o + (le ? 0 : 4), le);
    return hi * 4294967296 + lo;
  };
  const check = (o: number, n: number, what: string) => {
    if (o + n > b.length) throw tiffError(label, `truncated TIFF (${what} at byte ${o} runs past the end, ${b.length} bytes)`);
  };
  let off = big ? (check(8, 8, 'header'), u64(8)) : dv.getUint32(4, le);
  const ifds: Ifd[] = [];
  const seen = new Set<number>();
  while (off !== 0) {
    if (seen.has(off)) throw tiffError(label, 'corrupt TIFF (IFD chain loops)');
    seen.add(off);
    check(off, big ? 8 : 2, 'IFD');
    const count = big ? u64(off) : dv.getUint16(off, le);
    const entrySize = big ? 20 : 12;
    const start = off + (big ? 8 : 2);
    check(start, count * entrySize + (big ? 8 : 4), 'IFD');
    const tags = new Map<number, number[] | string>();
    for (let i = 0; i < count; i++) {
      const e = start + i * entrySize;
      const tag = dv.getUint16(e, le);
      const type = dv.getUint16(e + 2, le);
      const n = big ? u64(e + 4) : dv.getUint32(e + 4, le);
      const size = TYPE_SIZE[type];
      if (!size) continue; // unknown field type: skip the tag, as the spec says
      const inline = big ? 8 : 4;
      let p = size * n <= inline ? e + (big ? 12 : 8) : big ? u64(e + 12) : dv.getUint32(e + 8, le);
      if (tag === 50838 || tag === 50839 || tag === 320 || tag === 33723 || tag === 34665 || tag === 700) continue; // big private/metadata blobs we do not use
      check(p, size * n, `tag ${tag}`);
      if (type === 2) {
        let s = '';
        for (let k = 0; k < n; k++) {
          const c = b[p + k];
          if (c === 0) break;
          s += String.fromCharCode(c);
        }
        tags.set(tag, s);
        continue;
      }
      const vals: number[] = new Array(n);
      for (let k = 0; k < n; k++, p += size) {
        switch (type) {
          case 1:
          case 7:
            vals[k] = b[p];
            break;
          case 6:
            vals[k] = dv.getInt8(p);
            break;
          case 3:
            vals[k] = dv.getUint16(p, le);
            break;
          case 8:
            vals[k] = dv.getInt16(p, le);
            break;
          case 4:
          case 13:
            vals[k] = dv.getUint32(p, le);
            break;
          case 9:
            vals[k] = dv.getInt32(p, le);
            break;
          case 5:
            vals[k] = dv.getUint32(p, le) / (dv.getUint32(p + 4, le) || 1);
            break;
          case 10:
            vals[k] = dv.getInt32(p, le) / (dv.getInt32(p + 4, le) || 1);
            break;
          case 11:
            vals[k] = dv.getFloat32(p, le);
            break;
          case 12:
            vals[k] = dv.getFloat64(p, le);
            break;
          case 16:
          case 18:
            vals[k] = u64(p);
            break;
          case 17:
            vals[k] = Number(dv.getBigInt64(p, le));
            break;
        }
      }
      tags.set(tag, vals);
    }
    ifds.push({ tags });
    const nextAt = start + count * entrySize;
    off = big ? u64(nextAt) : dv.getUint32(nextAt, le);
  }
  if (ifds.length === 0) throw tiffError(label, 'TIFF has no images');
  return { ifds, le, big };
}

/** TIFF LZW (MSB-first codes, 9–12 bits, early change). Decodes until EOI, `expected` bytes, or the input ends. */
export function lzwDecode(src: Uint8Array, expected: number, label = 'tiff'): Uint8Array {
  const out = new Uint8Array(expected);
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Int32Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    first[i] = i;
    length[i] = 1;
  }
  let bitPos = 0;
  const totalBits = src.length * 8;
  let width = 9;
  let next = 258;
  let old = -1;
  let o = 0;
  const readCode = (): number => {
    if (bitPos + width > totalBits) return 257; // ran out: treat as EOI (some writers omit it)
    let v = 0;
    let need = width;
    let p = bitPos;
    while (need > 0) {
      const byte = src[p >> 3];
      const avail = 8 - (p & 7);
      const take = Math.min(avail, need);
      v = (v << take) | ((byte >> (avail - take)) & ((1 << take) - 1));
      need -= take;
      p += take;
    }
    bitPos = p;
    return v;
  };
  const emit = (code: number) => {
    const len = length[code];
    let end = o + len;
    if (end > expected) {
      // A stream longer than the strip: keep what fits.
      let c = code;
      for (let k = len - 1; k >= 0; k--) {
        if (o + k < expected) out[o + k] = suffix[c];
        c = prefix[c];
      }
      o = expected;
      return;
    }
    let c = code;
    while (end > o) {
      out[--end] = suffix[c];
      c = prefix[c];
    }
    o += len;
  };
  for (;;) {
    const code = readCode();
    if (code === 257) break;
    if (code === 256) {
      width = 9;
      next = 258;
      old = -1;
      continue;
    }
    if (old === -1) {
      if (code > 255) throw tiffError(label, `corrupt LZW data (first code ${code} after a clear)`);
      emit(code);
      old = code;
      if (o >= expected) break;
      continue;
    }
    let firstByte: number;
    if (code < next) {
      firstByte = first[code];
    } else if (code === next) {
      firstByte = first[old];
    } else throw tiffError(label, `corrupt LZW data (code ${code} beyond table size ${next})`);
    if (next < 4096) {
      prefix[next] = old;
      suffix[next] = code === next ? firstByte : first[code];
      first[next] = first[old];
      length[next] = length[old] + 1;
      next++;
    }
    emit(code);
    old = code;
    if (next + 1 >= 1 << width && width < 12) width++;
    if (o >= expected) break;
  }
  return o === expected ? out : out.subarray(0, o);
}

/** PackBits (Apple RLE). */
export function packBitsDecode(src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let i = 0;
  let o = 0;
  while (i < src.length && o < expected) {
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) {
      const cnt = Math.min(n + 1, expected - o, src.length - i);
      out.set(src.subarray(i, i + cnt), o);
      i += n + 1;
      o += cnt;
    } else if (n !== -128) {
      const cnt = Math.min(1 - n, expected - o);
      out.fill(src[i++], o, o + cnt);
      o += cnt;
    }
  }
  return o === expected ? out : out.subarray(0, o);
}

interface PageInfo {
  width: number;
  height: number;
  bps: number;
  format: number;
  comp: number;
  predictor: number;
  tiled: boolean;
  tileW: number;
  tileH: number;
  offsets: number[];
  counts: number[];
  rowsPerStrip: number;
}

function pageInfo(ifd: Ifd, page: number, label: string): PageInfo {
  const num = (tag: number, def?: number): number => {
    const v = ifd.tags.get(tag);
    if (Array.isArray(v) && v.length) return v[0];
    if (def === undefined) throw tiffError(label, `page ${page}: missing TIFF tag ${tag}`);
    return def;
  };
  const arr = (tag: number): number[] | undefined => {
    const v = ifd.tags.get(tag);
    return Array.isArray(v) ? v : undefined;
  };
  const width = num(256);
  const height = num(257);
  const spp = num(277, 1);
  if (spp !== 1) {
    const photometric = num(262, 1);
    throw tiffError(label, `page ${page} has ${spp} samples per pixel${photometric === 2 ? ' (RGB)' : ''}; only single-channel TIFF volumes are supported`);
  }
  const bpsAll = arr(258) ?? [1];
  const bps = bpsAll[0];
  const format = num(339, 1);
  const comp = num(259, 1);
  const predictor = num(317, 1);
  const tiled = ifd.tags.has(322);
  const offsets = arr(tiled ? 324 : 273);
  const counts = arr(tiled ? 325 : 279);
  if (!offsets) throw tiffError(label, `page ${page}: no ${tiled ? 'tile' : 'strip'} offsets`);
  const info: PageInfo = {
    width,
    height,
    bps,
    format,
    comp,
    predictor,
    tiled,
    tileW: tiled ? num(322) : width,
    tileH: tiled ? num(323) : height,
    offsets,
    counts: counts ?? [],
    rowsPerStrip: Math.min(num(278, height), height) || height,
  };
  if (!COMPRESSION_NAMES[comp] || ![1, 5, 8, 32773, 32946].includes(comp)) {
    throw tiffError(label, `unsupported TIFF compression ${comp}${COMPRESSION_NAMES[comp] ? ` (${COMPRESSION_NAMES[comp]})` : ''}`);
  }
  if (![1, 2, 3].includes(predictor)) throw tiffError(label, `unsupported TIFF predictor ${predictor}`);
  return info;
}

function dtypeFor(bps: number, format: number, label: string): TiffDtype {
  const key = `${format}:${bps}`;
  const table: Record<string, TiffDtype> = {
    '1:1': 'uint8',
    '1:8': 'uint8',
    '2:8': 'int8',
    '1:16': 'uint16',
    '2:16': 'int16',
    '1:32': 'uint32',
    '2:32': 'int32',
    '3:32': 'float32',
    '3:64': 'float64',
    '4:8': 'uint8',
    '4:16': 'uint16',
    '4:32': 'uint32',
  };
  const dt = table[key];
  if (!dt) {
    const kind = ({ 1: 'unsigned', 2: 'signed', 3: 'float', 4: 'untyped', 5: 'complex int', 6: 'complex float' } as Record<number, string>)[format] ?? `format ${format}`;
    throw tiffError(label, `unsupported TIFF sample type: ${bps}-bit ${kind}`);
  }
  return dt;
}

function makeData(dtype: TiffDtype, n: number): TiffData {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
  }
}

/** Undo predictor and byte order on one decoded block of `rows` rows of `cols` samples, into little-endian bytes. */
function postprocess(block: Uint8Array, rows: number, cols: number, bps: number, le: boolean, predictor: number, label: string): Uint8Array {
  const bytes = bps / 8;
  if (predictor === 3) {
    if (bps !== 32 && bps !== 64 && bps !== 16) throw tiffError(label, `floating-point predictor with ${bps}-bit samples`);
    const rowBytes = cols * bytes;
    const out = new Uint8Array(rows * rowBytes);
    for (let r = 0; r < rows; r++) {
      const row = block.subarray(r * rowBytes, (r + 1) * rowBytes);
      for (let i = 1; i < rowBytes; i++) row[i] = (row[i] + row[i - 1]) & 0xff;
      // bytes are stored as planes, most significant first; rebuild little-endian samples
      const base = r * rowBytes;
      for (let i = 0; i < cols; i++) for (let k = 0; k < bytes; k++) out[base + i * bytes + (bytes - 1 - k)] = row[k * cols + i];
    }
    return out;
  }
  if (!le && bytes > 1) for (let i = 0; i + bytes <= block.length; i += bytes) block.subarray(i, i + bytes).reverse();
  if (predictor === 2) {
    if (bytes === 1) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let i = 1; i < cols; i++) block[o + i] = (block[o + i] + block[o + i - 1]) & 0xff;
      }
    } else if (bytes === 2) {
      const v = new Uint16Array(block.buffer, block.byteOffset, block.length >> 1);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let i = 1; i < cols; i++) v[o + i] = (v[o + i] + v[o + i - 1]) & 0xffff;
      }
    } else if (bytes === 4) {
      const v = new Uint32Array(block.buffer, block.byteOffset, block.length >> 2);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let i = 1; i < cols; i++) v[o + i] = (v[o + i] + v[o + i - 1]) >>> 0;
      }
    } else if (bytes === 8) {
      const v = new BigUint64Array(block.buffer, block.byteOffset, block.length >> 3);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        for (let i = 1; i < cols; i++) v[o + i] = BigInt.asUintN(64, v[o + i] + v[o + i - 1]);
      }
    } else throw tiffError(label, `horizontal predictor with ${bps}-bit samples`);
  }
  return block;
}

function decompress(raw: Uint8Array, comp: number, expected: number, label: string, what: string): Uint8Array {
  let out: Uint8Array;
  try {
    if (comp === 1) out = raw;
    else if (comp === 5) out = lzwDecode(raw, expected, label);
    else if (comp === 32773) out = packBitsDecode(raw, expected);
    else out = compression().unzlib(raw);
  } catch (e) {
    if (e instanceof VesselError) throw e;
    throw tiffError(label, `corrupt ${COMPRESSION_NAMES[comp]} data in ${what} (${(e as Error).message})`);
  }
  if (out.length < expected) throw tiffError(label, `truncated TIFF: ${what} decodes to ${out.length} bytes, expected ${expected}`);
  // own the bytes (uncompressed data is a view into the file; predictors modify in place)
  return out === raw || out.byteOffset % 8 !== 0 ? out.slice(0, expected) : out.subarray(0, expected);
}

function parseImageJ(desc: string): { spacing?: number; unit?: string; channels: number; frames: number } {
  if (!desc.startsWith('ImageJ=')) return { channels: 1, frames: 1 };
  const get = (k: string) => new RegExp(`(?:^|\\n)${k}=([^\\n]*)`).exec(desc)?.[1];
  const sp = get('spacing');
  return { spacing: sp !== undefined ? Number(sp) : undefined, unit: get('unit')?.trim(), channels: Number(get('channels') ?? 1) || 1, frames: Number(get('frames') ?? 1) || 1 };
}

/** Read a (multi-page) single-channel TIFF as a [pages, height, width] volume. */
export function readTiff(b: Uint8Array, label = 'tiff'): TiffVolume {
  return guarded(label, 'TIFF file', () => readTiffUnguarded(b, label));
}

function readTiffUnguarded(b: Uint8Array, label = 'tiff'): TiffVolume {
  const { ifds, le, big } = readIfds(b, label);
  // Skip reduced-resolution images (NewSubfileType bit 0), e.g. thumbnails.
  const pages = ifds.filter((f) => {
    const t = f.tags.get(254);
    return !(Array.isArray(t) && t[0] & 1);
  });
  if (pages.length === 0) throw tiffError(label, 'TIFF has only reduced-resolution images');
  const p0 = pageInfo(pages[0], 0, label);
  const dtype = dtypeFor(p0.bps, p0.format, label);
  const { width, height } = p0;
  const elem = p0.bps === 1 ? 1 : p0.bps / 8;
  const pageBytes = width * height * elem;
  if (!(width > 0 && height > 0) || pages.length * pageBytes > 2 ** 33) {
    throw tiffError(label, `implausible TIFF size: ${pages.length} pages of ${width}×${height} ${p0.bps}-bit (corrupt header?)`);
  }
  const data = makeData(dtype, pages.length * width * height);
  const outBytes = new Uint8Array(data.buffer); // pages are decoded straight into the result
  for (let z = 0; z < pages.length; z++) {
    const info = z === 0 ? p0 : pageInfo(pages[z], z, label);
    if (info.width !== width || info.height !== height || info.bps !== p0.bps || info.format !== p0.format) {
      throw tiffError(label, `page ${z} is ${info.width}×${info.height} ${info.bps}-bit, page 0 is ${width}×${height} ${p0.bps}-bit; a volume needs equal pages`);
    }
    const dst = outBytes.subarray(z * pageBytes, (z + 1) * pageBytes);
    const fetch = (k: number, expected: number, what: string) => {
      const off = info.offsets[k];
      const count = info.counts[k] ?? expected;
      if (off === undefined) throw tiffError(label, `page ${z}: missing offset for ${what}`);
      if (off + count > b.length) throw tiffError(label, `truncated TIFF: page ${z} ${what} needs bytes ${off}–${off + count}, file has ${b.length}`);
      return decompress(b.subarray(off, off + count), info.comp, expected, label, `page ${z} ${what}`);
    };
    if (info.bps === 1) {
      if (info.tiled) throw tiffError(label, 'tiled 1-bit TIFF is not supported');
      const rowBytes = Math.ceil(width / 8);
      const rps = info.rowsPerStrip;
      for (let s = 0, y0 = 0; y0 < height; s++, y0 += rps) {
        const rows = Math.min(rps, height - y0);
        const blk = fetch(s, rows * rowBytes, `strip ${s}`);
        for (let r = 0; r < rows; r++) for (let x = 0; x < width; x++) dst[(y0 + r) * width + x] = (blk[r * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1;
      }
      continue;
    }
    if (!info.tiled) {
      const rps = info.rowsPerStrip;
      for (let s = 0, y0 = 0; y0 < height; s++, y0 += rps) {
        const rows = Math.min(rps, height - y0);
        const blk = postprocess(fetch(s, rows * width * elem, `strip ${s}`), rows, width, info.bps, le, info.predictor, label);
        dst.set(blk.subarray(0, rows * width * elem), y0 * width * elem);
      }
    } else {
      const { tileW, tileH } = info;
      const across = Math.ceil(width / tileW);
      const down = Math.ceil(height / tileH);
      for (let ty = 0; ty < down; ty++) {
        for (let tx = 0; tx < across; tx++) {
          const k = ty * across + tx;
          const blk = postprocess(fetch(k, tileW * tileH * elem, `tile ${k}`), tileH, tileW, info.bps, le, info.predictor, label);
          const rows = Math.min(tileH, height - ty * tileH);
          const cols = Math.min(tileW, width - tx * tileW);
          for (let r = 0; r < rows; r++) {
            const from = r * tileW * elem;
            dst.set(blk.subarray(from, from + cols * elem), ((ty * tileH + r) * width + tx * tileW) * elem);
          }
        }
      }
    }
  }
  const desc = typeof pages[0].tags.get(270) === 'string' ? (pages[0].tags.get(270) as string) : '';
  const ij = parseImageJ(desc);
  if (ij.channels > 1 || ij.frames > 1) {
    throw tiffError(label, `ImageJ hyperstack with ${ij.channels} channel(s) and ${ij.frames} frame(s): only a single-channel, single-time-point z-stack is a volume`);
  }
  let spacing: [number, number, number] = [1, 1, 1];
  let unit = '';
  if (ij.unit && ij.unit !== 'pixel' && ij.unit !== '') {
    const xr = pages[0].tags.get(282);
    const yr = pages[0].tags.get(283);
    const sx = Array.isArray(xr) && xr[0] > 0 ? 1 / xr[0] : 1;
    const sy = Array.isArray(yr) && yr[0] > 0 ? 1 / yr[0] : sx;
    spacing = [ij.spacing && ij.spacing > 0 ? ij.spacing : 1, sy, sx];
    unit = ij.unit === 'micron' ? 'µm' : ij.unit;
  }
  return { shape: [pages.length, height, width], dtype, data, spacing, unit, littleEndian: le, bigTiff: big, compression: p0.comp, description: desc };
}

export interface TiffWriteOptions {
  /** 'none' (default) or 'deflate' (zlib, TIFF compression 8) */
  compression?: 'none' | 'deflate';
  /** deflate level (default 6) */
  level?: number;
  /** [sz, sy, sx] written as ImageJ spacing and X/Y resolution */
  spacing?: [number, number, number];
  /** unit for the ImageJ description (default 'micron' when spacing is given) */
  unit?: string;
}

/** Write a [z, y, x] volume as a multi-page little-endian TIFF (one strip per page). */
export function writeTiff(data: TiffData, shape: [number, number, number], options: TiffWriteOptions = {}): Uint8Array {
  const [nz, ny, nx] = shape;
  if (data.length !== nz * ny * nx) throw new VesselError(`tiff: data has ${data.length} elements, shape [${shape.join(', ')}] needs ${nz * ny * nx}`);
  const [bps, format] = ((): [number, number] => {
    if (data instanceof Uint8Array) return [8, 1];
    if (data instanceof Int8Array) return [8, 2];
    if (data instanceof Uint16Array) return [16, 1];
    if (data instanceof Int16Array) return [16, 2];
    if (data instanceof Uint32Array) return [32, 1];
    if (data instanceof Int32Array) return [32, 2];
    if (data instanceof Float32Array) return [32, 3];
    if (data instanceof Float64Array) return [64, 3];
    throw new VesselError('tiff: unsupported array type');
  })();
  const deflate = options.compression === 'deflate';
  const elem = bps / 8;
  const pageBytes = nx * ny * elem;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const strips: Uint8Array[] = [];
  for (let z = 0; z < nz; z++) {
    const page = bytes.subarray(z * pageBytes, (z + 1) * pageBytes);
    strips.push(deflate ? compression().zlib(page, options.level ?? 6) : page);
  }
  const sp = options.spacing;
  const unit = sp ? options.unit ?? 'micron' : undefined;
  let desc = `ImageJ=1.11a\nimages=${nz}\n${nz > 1 ? `slices=${nz}\n` : ''}`;
  if (sp) desc += `unit=${unit === 'µm' || unit === 'um' ? 'micron' : unit}\nspacing=${sp[0]}\n`;
  desc += 'loop=false\n';
  const descBytes = new TextEncoder().encode(desc + '\0');
  // Layout: header | description | per page: IFD + out-of-line values | strip data (8-byte aligned)
  type Entry = [tag: number, type: number, values: number[] | Uint8Array];
  const rational = (v: number): number[] => {
    // v ≈ num/den with 32-bit parts
    const den = 1_000_000;
    return [Math.round(v * den), den];
  };
  const entriesFor = (z: number, stripOffset: number, descOffset: number): Entry[] => {
    const e: Entry[] = [
      [254, 4, [0]],
      [256, 4, [nx]],
      [257, 4, [ny]],
      [258, 3, [bps]],
      [259, 3, [deflate ? 8 : 1]],
      [262, 3, [1]],
    ];
    if (z === 0) e.push([270, 2, [descOffset, descBytes.length]]);
    e.push([273, 4, [stripOffset]], [277, 3, [1]], [278, 4, [ny]], [279, 4, [strips[z].length]]);
    if (sp) e.push([282, 5, rational(1 / sp[2])], [283, 5, rational(1 / sp[1])]);
    e.push([284, 3, [1]]);
    if (sp) e.push([296, 3, [1]]);
    e.push([339, 3, [format]]);
    return e;
  };
  const ifdSize = (z: number) => {
    const e = entriesFor(z, 0, 0);
    const extra = e.filter(([, t]) => t === 5).length * 8;
    return 2 + e.length * 12 + 4 + extra;
  };
  let pos = 8;
  const descOffset = pos;
  pos += descBytes.length;
  pos += pos & 1;
  const ifdOffsets: number[] = [];
  for (let z = 0; z < nz; z++) {
    ifdOffsets.push(pos);
    pos += ifdSize(z);
    pos += pos & 1;
  }
  pos = (pos + 7) & ~7;
  const stripOffsets: number[] = [];
  for (let z = 0; z < nz; z++) {
    stripOffsets.push(pos);
    pos += strips[z].length;
    pos = (pos + 7) & ~7;
  }
  if (pos > 0xffffffff) throw new VesselError(`tiff: ${pos} bytes exceeds classic TIFF's 4 GiB`);
  const out = new Uint8Array(pos);
  const dv = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  dv.setUint16(2, 42, true);
  dv.setUint32(4, nz > 0 ? ifdOffsets[0] : 0, true);
  out.set(descBytes, descOffset);
  for (let z = 0; z < nz; z++) {
    const e = entriesFor(z, stripOffsets[z], descOffset);
    let p = ifdOffsets[z];
    dv.setUint16(p, e.length, true);
    p += 2;
    let extraAt = p + e.length * 12 + 4;
    for (const [tag, type, vals] of e) {
      dv.setUint16(p, tag, true);
      dv.setUint16(p + 2, type, true);
      if (type === 2) {
        dv.setUint32(p + 4, (vals as number[])[1], true);
        dv.setUint32(p + 8, (vals as number[])[0], true);
      } else if (type === 5) {
        dv.setUint32(p + 4, 1, true);
        dv.setUint32(p + 8, extraAt, true);
        dv.setUint32(extraAt, (vals as number[])[0], true);
        dv.setUint32(extraAt + 4, (vals as number[])[1], true);
        extraAt += 8;
      } else {
        dv.setUint32(p + 4, 1, true);
        if (type === 3) dv.setUint16(p + 8, (vals as number[])[0], true);
        else dv.setUint32(p + 8, (vals as number[])[0], true);
      }
      p += 12;
    }
    dv.setUint32(p, z + 1 < nz ? ifdOffsets[z + 1] : 0, true);
    out.set(strips[z], stripOffsets[z]);
  }
  return out;
}
