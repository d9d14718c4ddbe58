// ZIP archives (the container of .npz and of torch.save checkpoints): read through the central directory,
// including ZIP64 records, and write (stored or deflated members). Works on Uint8Array only, so it runs in browsers.
import { compression } from './compress.js';
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  headerOffset: number;
  /** Offset of the member's bytes (after the local header), filled in by readZip. */
  dataOffset: number;
}

export interface ZipArchive {
  entries: ZipEntry[];
  byName: Map<string, ZipEntry>;
  bytes: Uint8Array;
  /** Where the archive came from, for messages. */
  label: string;
}

let crcTables: Uint32Array[] | null = null;

/** CRC-32 in JavaScript (IEEE polynomial, as zip, gzip and PNG use), slicing by 8 bytes. */
export function crc32Js(data: Uint8Array, seed = 0): number {
  if (!crcTables) {
    crcTables = Array.from({ length: 8 }, () => new Uint32Array(256));
    const t0 = crcTables[0];
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t0[n] = c >>> 0;
    }
    for (let n = 0; n < 256; n++) {
      let c = t0[n];
      for (let k = 1; k < 8; k++) {
        c = t0[c & 0xff] ^ (c >>> 8);
        crcTables[k][n] = c;
      }
    }
  }
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crcTables;
  let c = (seed ^ 0xffffffff) >>> 0;
  let i = 0;
  const n = data.length;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[data[i + 4]] ^
      t2[data[i + 5]] ^
      t1[data[i + 6]] ^
      t0[data[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 through the compression backend (Node's native zlib.crc32 when files.ts is loaded, else crc32Js). */
export function crc32(data: Uint8Array, seed = 0): number {
  return compression().crc32(data, seed);
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5) && (bytes[3] === 4 || bytes[3] === 6);
}

function u64(dv: DataView, off: number): number {
  const lo = dv.getUint32(off, true);
  const hi = dv.getUint32(off + 4, true);
  return hi * 4294967296 + lo;
}

/** Parse a zip archive's directory. Throws a one-line VesselError for non-zip or truncated input. */
export function readZip(bytes: Uint8Array, label = 'archive'): ZipArchive {
  return guarded(label, 'zip archive', () => readZipUnguarded(bytes, label));
}

function readZipUnguarded(bytes: Uint8Array, label = 'archive'): ZipArchive {
  if (bytes.length < 22 || !isZip(bytes)) {
    throw new VesselError(`${label}: not a zip archive (wrong magic bytes)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // End of central directory: 22 bytes + up to 65535 bytes of comment, searched backwards.
  let eocd = -1;
  const stop = Math.max(0, bytes.length - 22 - 65535);
  for (let i = bytes.length - 22; i >= stop; i--) {
    if (bytes[i] === 0x50 && bytes[i + 1] === 0x4b && bytes[i + 2] === 5 && bytes[i + 3] === 6) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new VesselError(`${label}: truncated zip archive (no end-of-directory record; ${bytes.length} bytes)`);
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: a locator sits just before the EOCD and points at the ZIP64 end record.
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) throw new VesselError(`${label}: corrupt zip archive (missing ZIP64 locator)`);
    const z64 = u64(dv, loc + 8);
    if (z64 + 56 > bytes.length || dv.getUint32(z64, true) !== 0x06064b50) throw new VesselError(`${label}: corrupt zip archive (bad ZIP64 end record)`);
    count = u64(dv, z64 + 32);
    cdSize = u64(dv, z64 + 40);
    cdOffset = u64(dv, z64 + 48);
  }
  if (cdOffset + cdSize > bytes.length) throw new VesselError(`${label}: truncated zip archive (directory beyond end of file)`);
  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  const dec = new TextDecoder();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== 0x02014b50) throw new VesselError(`${label}: corrupt zip directory (entry ${i})`);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let csize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let hdr = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > bytes.length) throw new VesselError(`${label}: corrupt zip directory (entry ${i} runs past the end of the file)`);
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information: only the fields that are 0xFFFFFFFF in the record are present, in this order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (e + 4 + len > eEnd) throw new VesselError(`${label}: corrupt zip directory (bad extra field in "${name}")`);
      if (id === 1) {
        let q = e + 4;
        if (size === 0xffffffff) (size = u64(dv, q)), (q += 8);
        if (csize === 0xffffffff) (csize = u64(dv, q)), (q += 8);
        if (hdr === 0xffffffff) (hdr = u64(dv, q)), (q += 8);
      }
      e += 4 + len;
    }
    p = eEnd + commentLen;
    if (hdr + 30 > bytes.length || dv.getUint32(hdr, true) !== 0x04034b50) {
      throw new VesselError(`${label}: corrupt or truncated zip archive (bad local header for "${name}")`);
    }
    const dataOffset = hdr + 30 + dv.getUint16(hdr + 26, true) + dv.getUint16(hdr + 28, true);
    const entry: ZipEntry = { name, method, crc32: crc, compressedSize: csize, size, headerOffset: hdr, dataOffset };
    entries.push(entry);
    byName.set(name, entry);
  }
  return { entries, byName, bytes, label };
}

/**
 * The bytes of one member. Stored members are returned as a view into the archive (no copy) unless `copy`.
 * The CRC is checked when `verify` (default true).
 */
export function zipRead(zip: ZipArchive, entry: ZipEntry, verify = true): Uint8Array {
  const { bytes, label } = zip;
  const end = entry.dataOffset + entry.compressedSize;
  if (end > bytes.length) throw new VesselError(`${label}: truncated zip archive ("${entry.name}" needs ${end} bytes, file has ${bytes.length})`);
  const raw = bytes.subarray(entry.dataOffset, end);
  let out: Uint8Array;
  if (entry.method === 0) out = raw;
  else if (entry.method === 8) {
    try {
      out = compression().inflate(raw, entry.size);
    } catch (e) {
      throw new VesselError(`${label}: corrupt deflate data in "${entry.name}" (${(e as Error).message})`);
    }
  } else throw new VesselError(`${label}: "${entry.name}" uses unsupported zip compression method ${entry.method}`);
  if (out.length !== entry.size) throw new VesselError(`${label}: "${entry.name}" decompressed to ${out.length} bytes, expected ${entry.size}`);
  if (verify && crc32(out) !== entry.crc32) throw new VesselError(`${label}: CRC mismatch in "${entry.name}" (corrupt archive)`);
  return out;
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Deflate this member (default false: stored). */
  compress?: boolean;
  /** Align the member's data to this many bytes (stored members only) by padding the local extra field. */
  align?: number;
}

/** Write a zip archive (no ZIP64: members and the archive must stay under 4 GiB). */
export function writeZip(members: ZipInput[]): Uint8Array {
  if (members.length > 0xfffe) throw new VesselError(`zip writer: ${members.length} members is more than a zip without ZIP64 can hold`);
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = enc.encode(m.name);
    const crc = crc32(m.data);
    const body = m.compress ? compression().deflate(m.data, 6) : m.data;
    const method = m.compress ? 8 : 0;
    let extraLen = 0;
    if (!m.compress && m.align && m.align > 1) {
      const start = offset + 30 + name.length;
      extraLen = (m.align - (start % m.align)) % m.align;
      if (extraLen > 0 && extraLen < 4) extraLen += m.align;
    }
    if (offset + 30 + name.length + extraLen + body.length > 0xfffffffe) {
      throw new VesselError(`zip writer: archive would exceed 4 GiB at "${m.name}"`);
    }
    const local = new Uint8Array(30 + name.length + extraLen);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, 0x0800, true); // UTF-8 names
    lv.setUint16(8, method, true);
    lv.setUint16(10, 0, true);
    lv.setUint16(12, 0x21, true); // 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, m.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extraLen, true);
    local.set(name, 30);
    if (extraLen >= 4) {
      lv.setUint16(30 + name.length, 0xcafe, true); // padding record
      lv.setUint16(32 + name.length, extraLen - 4, true);
    }
    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, method, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    cd.set(name, 46);
    parts.push(local, body);
    central.push(cd);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const total = offset + cdSize + 22;
  const out = new Uint8Array(total);
  let p = 0;
  for (const part of [...parts, ...central, eocd]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
