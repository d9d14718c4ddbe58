// The segmenter suite: its FLOP count from layer shapes, and its JSON contract through the real `vesselfm bench`.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dynunetFlops, dynunetLayers, segmenterSuite } from '../../benchmarks/segmenter.js';
import { findSuite } from '../../benchmarks/registry.js';
import { DynUNet, VESSELFM_FILTERS } from '../../src/models/dynunet.js';
import { getEngine } from '../helpers.js';

describe('bench suite: segmenter', () => {
  it('counts the DynUNet conv work from its layer shapes: ≈478 GMAC per 128³ window (spec §1.4), 1/8 of it at 64³', async () => {
    const f = dynunetFlops(VESSELFM_FILTERS, 128);
    expect(Math.abs(f.forwardMacs / 1e9 - 478)).toBeLessThan(1);
    expect(dynunetFlops(VESSELFM_FILTERS, 64).forwardMacs * 8).toBe(f.forwardMacs);
    // Training: forward + weight gradients + input gradients, less the image's input gradient.
    const layers = dynunetLayers(VESSELFM_FILTERS, 128);
    const image = layers.filter((l) => l.readsImage).reduce((a, l) => a + l.macs, 0);
    expect(f.trainFlops).toBe(2 * (3 * f.forwardMacs - image));
    expect(layers.filter((l) => l.readsImage).map((l) => l.name)).toEqual(['input_block.conv1', 'input_block.conv3']);
    // The layer list is the network's: one entry per conv weight in the state dict, with the same shapes.
    const e = await getEngine();
    const net = new DynUNet(e, { filters: [4, 8, 8, 16, 16, 16] });
    try {
      const convKeys = [...net.namedParameters()].filter(([k, p]) => k.endsWith('conv.weight') && p.shape.length === 5);
      const small = dynunetLayers([4, 8, 8, 16, 16, 16], 64);
      expect(small.map((l) => `${l.name === 'output_block' ? 'output_block.conv' : l.name}.conv.weight`)).toEqual(convKeys.map(([k]) => k));
      for (const l of small) {
        const key = `${l.name === 'output_block' ? 'output_block.conv' : l.name}.conv.weight`;
        const shape = convKeys.find(([k]) => k === key)![1].shape;
        expect(shape, key).toEqual(l.kind === 'conv' ? [l.cout, l.cin, l.k, l.k, l.k] : [l.cin, l.cout, 2, 2, 2]);
      }
    } finally {
      net.dispose();
    }
  });

  it('is registered and prints the JSON-line contract through `vesselfm bench --suite segmenter --quick --json`', async () => {
    expect(findSuite('segmenter')).toBe(segmenterSuite);
    const r = spawnSync(process.execPath, ['bin/vesselfm.mjs', 'bench', '--suite', 'segmenter', '--quick', '--json'], { cwd: process.cwd(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    const by = new Map(rows.map((x) => [x.bench, x]));
    for (const x of rows) {
      expect(typeof x.bench).toBe('string');
      expect(typeof x.unit).toBe('string');
      expect(Number.isFinite(x.value) && x.value > 0, JSON.stringify(x)).toBe(true);
      expect(typeof x.adapter).toBe('string');
    }
    const inf = by.get('segmenter_inference')!;
    expect(inf.unit).toBe('windows/s');
    expect(inf.window).toEqual([32, 32, 32]);
    expect(inf.filters).toEqual(VESSELFM_FILTERS.map((f) => f / 8));
    expect(inf.fraction_of_matmul).toBeGreaterThan(0);
    const vol = by.get('segmenter_volume')!;
    expect(vol).toMatchObject({ unit: 'windows/s', volume: [32, 64, 64], windows: 9, mode: 'gpu' });
    expect(vol.ratio_to_forward_only).toBeGreaterThan(0);
    const train = by.get('segmenter_train_step')!;
    expect(train.unit).toBe('ms');
    expect(Number.isFinite(train.loss_after)).toBe(true);
    const tm = by.get('segmenter_train_memory')!;
    const im = by.get('segmenter_inference_memory')!;
    // Training holds weights, gradients, two AdamW moments and the saved activations: more than inference.
    expect(tm.peak_in_use_bytes).toBeGreaterThan(im.peak_in_use_bytes);
    expect(tm.peak_in_use_bytes).toBeGreaterThan(4 * 4 * inf.parameters);
    expect([...by.keys()].some((k) => k.startsWith('segmenter_matmul_ceiling_'))).toBe(true);
    // Mixed-precision inference beside the f32 one (adapters with shader-f16): same batch, its ratio to f32, and
    // less activation memory.
    const e = await getEngine();
    if (e.gpu.hasF16) {
      const mi = by.get('segmenter_inference_mixed')!;
      expect(mi).toMatchObject({ unit: 'windows/s', batch: inf.batch });
      expect(Math.abs((mi.vs_f32 as number) - mi.value / inf.value)).toBeLessThanOrEqual(0.01 * (mi.vs_f32 as number));
      const mm = by.get('segmenter_inference_mixed_memory')!;
      expect(mm.peak_in_use_bytes).toBeLessThan(im.peak_in_use_bytes);
    }
  }, 300_000);
});
