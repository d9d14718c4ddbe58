import { describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/tape.js';
import { segmentVolume, windowStarts } from '../../src/eval/inference.js';
import { DynUNet } from '../../src/models/dynunet.js';
import { getEngine, randArray } from '../helpers.js';

describe('sliding-window inference', () => {
  it('places windows as MONAI does', () => {
    expect(windowStarts(200, 128, 0.5)).toEqual([0, 64, 72]);
    expect(windowStarts(128, 128, 0.5)).toEqual([0]);
    expect(windowStarts(256, 128, 0.5)).toEqual([0, 64, 128]);
    expect(windowStarts(20, 8, 0)).toEqual([0, 8, 12]);
    expect(() => windowStarts(7, 8, 0.5)).toThrow(/shorter/);
  });

  it('averages window logits exactly like a per-window reference, on the GPU and streaming', async () => {
    const e = await getEngine();
    const net = new DynUNet(e, { filters: [2, 3, 3] });
    const shape = [10, 13, 6] as const; // z shorter than … no: every axis ≥ 8 except x (padded to 8)
    const vol = Float32Array.from(randArray(10 * 13 * 6, 5, 0, 1));
    const P = 8;
    // Reference: pad x to 8 (1 before, 1 after), windows per axis, forward each window alone, mean of logits.
    const V = [10, 13, 8];
    const padded = new Float32Array(V[0] * V[1] * V[2]);
    for (let z = 0; z < 10; z++) for (let y = 0; y < 13; y++) for (let x = 0; x < 6; x++) padded[(z * 13 + y) * 8 + x + 1] = vol[(z * 13 + y) * 6 + x];
    const sum = new Float64Array(padded.length);
    const cnt = new Float64Array(padded.length);
    for (const z0 of windowStarts(10, P, 0.5)) {
      for (const y0 of windowStarts(13, P, 0.5)) {
        const win = new Float32Array(P * P * P);
        for (let z = 0; z < P; z++) for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) win[(z * P + y) * P + x] = padded[((z0 + z) * 13 + y0 + y) * 8 + x];
        const t = e.tensor(win, [1, 1, P, P, P]);
        const out = noGrad(() => net.forward(t));
        const l = await out.read();
        t.dispose();
        out.dispose();
        for (let z = 0; z < P; z++) for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) {
          const v = ((z0 + z) * 13 + y0 + y) * 8 + x;
          sum[v] += l[(z * P + y) * P + x];
          cnt[v]++;
        }
      }
    }
    const refProb = new Float64Array(vol.length);
    for (let z = 0; z < 10; z++) for (let y = 0; y < 13; y++) for (let x = 0; x < 6; x++) {
      const v = (z * 13 + y) * 8 + x + 1;
      refProb[(z * 13 + y) * 6 + x] = 1 / (1 + Math.exp(-sum[v] / cnt[v]));
    }
    for (const mode of ['gpu', 'stream'] as const) {
      const r = await segmentVolume(net, vol, shape, { patch: P, overlap: 0.5, batch: 2, normalize: false, probabilities: true, mode });
      expect(r.mode).toBe(mode);
      let maxErr = 0;
      for (let i = 0; i < vol.length; i++) maxErr = Math.max(maxErr, Math.abs(r.probabilities![i] - refProb[i]));
      expect(maxErr).toBeLessThan(1e-5);
      for (let i = 0; i < vol.length; i++) expect(r.mask[i]).toBe(r.probabilities![i] > 0.5 ? 1 : 0);
    }
    net.dispose();
  });

  it('mirror TTA gives the same result on the GPU and streaming, and small objects can be removed', async () => {
    const e = await getEngine();
    const net = new DynUNet(e, { filters: [2, 2, 2] });
    const vol = Float32Array.from(randArray(9 * 8 * 12, 9, 0, 100));
    const a = await segmentVolume(net, vol, [9, 8, 12], { patch: 8, tta: true, probabilities: true, mode: 'gpu', batch: 3 });
    const b = await segmentVolume(net, vol, [9, 8, 12], { patch: 8, tta: true, probabilities: true, mode: 'stream', batch: 5 });
    expect(a.windows).toBe(2 * 1 * 2 * 8);
    let maxErr = 0;
    for (let i = 0; i < vol.length; i++) maxErr = Math.max(maxErr, Math.abs(a.probabilities![i] - b.probabilities![i]));
    expect(maxErr).toBeLessThan(1e-6);
    const c = await segmentVolume(net, vol, [9, 8, 12], { patch: 8, threshold: 0.0, minSize: vol.length + 1 });
    expect(c.mask.every((v) => v === 0)).toBe(true);
    net.dispose();
  });

  it('mixed precision (f16 activations): probabilities within f16 rounding of f32, the same mask away from the threshold, the network left as it was', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const net = new DynUNet(e, { filters: [4, 6, 8] });
    const shape = [11, 13, 9] as const;
    const vol = Float32Array.from(randArray(11 * 13 * 9, 21, 0, 1));
    const opts = { patch: 8, overlap: 0.5, normalize: false, probabilities: true } as const;
    const f32 = await segmentVolume(net, vol, shape, { ...opts, mode: 'gpu' });
    expect(f32.precision).toBe('f32');
    for (const mode of ['gpu', 'stream'] as const) {
      const mixed = await segmentVolume(net, vol, shape, { ...opts, mode, precision: 'mixed' });
      expect(mixed.precision).toBe('mixed');
      expect(net.precision).toBe('f32');
      let maxErr = 0;
      let spread = 0;
      for (let i = 0; i < vol.length; i++) {
        const [a, b] = [f32.probabilities![i], mixed.probabilities![i]];
        maxErr = Math.max(maxErr, Math.abs(a - b));
        spread = Math.max(spread, Math.abs(a - 0.5));
        // the f16 activations move a probability by far less than 0.01; only voxels that close to the threshold may flip
        if (Math.abs(a - 0.5) > 0.01) expect(mixed.mask[i], `voxel ${i}`).toBe(f32.mask[i]);
      }
      expect(spread).toBeGreaterThan(0.02); // the random network's output is not flat at 0.5, so the check above bites
      expect(maxErr).toBeGreaterThan(0); // f16 activations really ran
      expect(maxErr).toBeLessThan(0.01);
    }
    await expect(segmentVolume(net, vol, shape, { ...opts, precision: 'bf16' as 'mixed' })).rejects.toThrow(/precision must be f32 or mixed, got "bf16"/);
    net.dispose();
  });

  it('rejects bad settings with one clear line', async () => {
    const e = await getEngine();
    const net = new DynUNet(e, { filters: [2, 2, 2] });
    await expect(segmentVolume(net, new Float32Array(8), [2, 2, 2], { patch: 6 })).rejects.toThrow(/multiple of 4/);
    await expect(segmentVolume(net, new Float32Array(7), [2, 2, 2], { patch: 8 })).rejects.toThrow(/7 values/);
    const nan = new Float32Array(8).fill(NaN);
    await expect(segmentVolume(net, nan, [2, 2, 2], { patch: 8 })).rejects.toThrow(/NaN/);
    net.dispose();
  });
});
