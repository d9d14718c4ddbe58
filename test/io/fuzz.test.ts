// Damaged files: every reader either reads them or fails with a one-line VesselError — never a TypeError,
// RangeError or a hang. Truncations at many points and random byte corruption, with a fixed seed.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VesselError } from '../../src/gpu/errors.js';
import { readNpy } from '../../src/io/npy.js';
import { readNpz } from '../../src/io/npz.js';
import { readTorch, stateDict } from '../../src/io/torch.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import { readTiff } from '../../src/io/tiff.js';
import { readMetaImage } from '../../src/io/metaimage.js';
import { readZip, zipRead } from '../../src/io/zip.js';
import { rng } from '../helpers.js';

const fx = (p: string) => new Uint8Array(readFileSync(join(process.cwd(), 'test/fixtures', p)));
const tiffCases = readZip(fx('tiff/tiff_cases.zip'));
const tiff = (n: string) => zipRead(tiffCases, tiffCases.byName.get(n)!).slice();

const samples: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
  ['npy', fx('npy/f4_be.npy'), (b) => readNpy(b)],
  ['npy unicode', fx('npy/U.npy'), (b) => readNpy(b)],
  ['npz deflated', fx('npy/deflated.npz'), (b) => readNpz(b)],
  ['pt', fx('torch/lightning_p2.pt'), (b) => stateDict(readTorch(b))],
  ['pt protocol 4', fx('torch/lightning_p4.pt'), (b) => stateDict(readTorch(b))],
  ['safetensors', writeSafetensors([['a', { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) }], ['b', { dtype: 'int64', shape: [2], data: new BigInt64Array(2) }]]), (b) => readSafetensors(b)],
  ['nii', fx('nifti/qform_be_i16.nii'), (b) => readNifti(b)],
  ['nii.gz', fx('nifti/sform_f32.nii.gz'), (b) => readNifti(b)],
  ['nii written', writeNifti(new Float32Array(24), [2, 3, 4]), (b) => readNifti(b)],
  ['tiff lzw', tiff('u2_be_lzw_pred2.tif'), (b) => readTiff(b)],
  ['tiff packbits', tiff('i1_le_packbits.tif'), (b) => readTiff(b)],
  ['tiff deflate tiled', tiff('f4_le_deflate_pred3_tiled.tif'), (b) => readTiff(b)],
  ['bigtiff', tiff('u2_be_bigtiff_lzw.tif'), (b) => readTiff(b)],
  ['mha', fx('metaimage/msb_zlib_i16.mha'), (b) => readMetaImage(b)],
];

function survive(read: (b: Uint8Array) => unknown, b: Uint8Array, what: string): 'ok' | 'error' {
  try {
    read(b);
    return 'ok';
  } catch (e) {
    if (!(e instanceof VesselError)) throw new Error(`${what}: ${(e as Error).name}: ${(e as Error).message}`);
    expect((e as Error).message.includes('\n'), what).toBe(false);
    return 'error';
  }
}

describe('damaged files fail cleanly', () => {
  for (const [name, good, read] of samples) {
    it(name, () => {
      expect(survive(read, good, `${name} intact`)).toBe('ok');
      const r = rng(name.length * 7919 + good.length);
      let errors = 0;
      // truncations: every byte for small files, else 300 spread points
      const step = Math.max(1, Math.floor(good.length / 300));
      for (let n = 0; n < good.length; n += step) if (survive(read, good.subarray(0, n), `${name} cut at ${n}`) === 'error') errors++;
      // corruption: 300 copies with 1–8 random bytes changed
      for (let k = 0; k < 300; k++) {
        const bad = good.slice();
        const flips = 1 + Math.floor(r() * 8);
        for (let f = 0; f < flips; f++) bad[Math.floor(r() * bad.length)] = Math.floor(r() * 256);
        if (survive(read, bad, `${name} corrupted copy ${k}`) === 'error') errors++;
      }
      expect(errors).toBeGreaterThan(0);
    });
  }
});
