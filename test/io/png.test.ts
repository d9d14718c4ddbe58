import { describe, it, expect } from 'vitest';
import { PNG } from 'pngjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, mip, toGrey8, strip, overlay, previewStrip, type Image8 } from '../../src/io/png.js';
import { writePng } from '../../src/io/files.js';
import { readVolume } from '../../src/io/volume.js';
import { VesselError } from '../../src/gpu/errors.js';

const decode = (b: Uint8Array) => PNG.sync.read(Buffer.from(b)); // pngjs: an independent decoder

describe('PNG encoder', () => {
  for (const channels of [1, 3, 4] as const) {
    it(`${channels}-channel images decode with pngjs to the same pixels`, () => {
      const width = 13;
      const height = 7;
      const data = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + (i >> 3)) & 0xff);
      const png = decode(encodePng({ width, height, channels, data }));
      expect(png.width).toBe(width);
      expect(png.height).toBe(height);
      // pngjs returns RGBA
      for (let p = 0; p < width * height; p++) {
        const want = channels === 1 ? [data[p], data[p], data[p], 255] : channels === 3 ? [...data.subarray(3 * p, 3 * p + 3), 255] : [...data.subarray(4 * p, 4 * p + 4)];
        expect(Array.from(png.data.subarray(4 * p, 4 * p + 4)), `pixel ${p}`).toEqual(want);
      }
    });
  }
  it('rejects a wrong buffer size in one line', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) })).toThrow(VesselError);
  });
});

describe('projections, strips and overlays', () => {
  // a 3×4×5 volume with value z*100 + y*10 + x: the max along each axis is at its last index
  const shape = [3, 4, 5] as const;
  const vol = Float32Array.from({ length: 60 }, (_, i) => Math.floor(i / 20) * 100 + (Math.floor(i / 5) % 4) * 10 + (i % 5));
  it('mip along z, y and x', () => {
    const a = mip(vol, shape, 0);
    expect([a.height, a.width]).toEqual([4, 5]);
    expect(a.data[1 * 5 + 2]).toBe(200 + 10 + 2);
    const b = mip(vol, shape, 1);
    expect([b.height, b.width]).toEqual([3, 5]);
    expect(b.data[2 * 5 + 4]).toBe(200 + 30 + 4);
    const c = mip(vol, shape, 2);
    expect([c.height, c.width]).toEqual([3, 4]);
    expect(c.data[1 * 4 + 3]).toBe(100 + 30 + 4);
  });
  it('toGrey8 scales min..max to 0..255', () => {
    const g = toGrey8({ width: 3, height: 1, data: Float32Array.from([10, 15, 20]) });
    expect(Array.from(g.data)).toEqual([0, 128, 255]);
    expect(Array.from(toGrey8({ width: 2, height: 1, data: Float32Array.from([-1, 5]) }, [0, 4]).data)).toEqual([0, 255]);
  });
  it('strip places panels side by side with a gap', () => {
    const a: Image8 = { width: 2, height: 2, channels: 1, data: Uint8Array.from([1, 2, 3, 4]) };
    const b: Image8 = { width: 1, height: 3, channels: 3, data: Uint8Array.from([9, 9, 9, 8, 8, 8, 7, 7, 7]) };
    const s = strip([a, b], 1, 0);
    expect([s.width, s.height, s.channels]).toEqual([4, 3, 3]);
    const px = (x: number, y: number) => Array.from(s.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
    expect(px(1, 1)).toEqual([4, 4, 4]);
    expect(px(2, 0)).toEqual([0, 0, 0]);
    expect(px(3, 2)).toEqual([7, 7, 7]);
    expect(px(0, 2)).toEqual([0, 0, 0]); // below the shorter panel
  });
  it('overlay colours label, prediction and both', () => {
    const bg: Image8 = { width: 4, height: 1, channels: 1, data: Uint8Array.from([100, 100, 100, 100]) };
    const lab = { width: 4, height: 1, data: Float32Array.from([0, 1, 0, 1]) };
    const pred = { width: 4, height: 1, data: Float32Array.from([0, 0, 0.9, 0.7]) };
    const o = overlay(bg, lab, pred, { alpha: 1 });
    expect(Array.from(o.data)).toEqual([100, 100, 100, 0, 200, 0, 230, 0, 230, 255, 255, 255]);
  });
  it('previewStrip of the real OCTA pair writes a PNG pngjs can read', () => {
    const img = readVolume(join(process.cwd(), 'test/fixtures/data/octa/OCTA-Data.tif'));
    const lab = readVolume(join(process.cwd(), 'test/fixtures/data/octa/OCTA-Labels.tif'));
    const s = previewStrip({ shape: img.shape, image: img.data, label: lab.data, prediction: lab.data }, 0);
    expect([s.width, s.height]).toEqual([4 * 128 + 3 * 4, 128]);
    const dir = mkdtempSync(join(tmpdir(), 'vfm-png-'));
    try {
      writePng(join(dir, 'p.png'), s);
      const png = decode(new Uint8Array(readFileSync(join(dir, 'p.png'))));
      expect(png.width).toBe(s.width);
      // the overlay panel of a perfect prediction shows agreement only: white where the label MIP is set
      const labMip = mip(lab.data, lab.shape, 0);
      const x0 = 3 * (128 + 4);
      let agree = 0;
      for (let y = 0; y < 128; y++)
        for (let x = 0; x < 128; x++) {
          const q = (y * s.width + x0 + x) * 4;
          if (labMip.data[y * 128 + x] > 0) {
            expect(png.data[q + 1]).toBeGreaterThanOrEqual(153); // 0.6 · 255
            agree++;
          }
        }
      expect(agree).toBeGreaterThan(1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
