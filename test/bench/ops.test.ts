// The ops suite's JSON contract (quick shapes).
import { describe, expect, it } from 'vitest';
import { opsSuite } from '../../benchmarks/ops.js';
import { findSuite } from '../../benchmarks/registry.js';
import type { BenchResult } from '../../benchmarks/suite.js';
import { getEngine } from '../helpers.js';

describe('bench suite: ops (quick)', () => {
  it('is registered and yields bandwidth, attention and memory figures', async () => {
    expect(findSuite('ops')).toBe(opsSuite);
    const e = await getEngine();
    const rows: BenchResult[] = [];
    for await (const r of opsSuite.run(e, { quick: true })) rows.push(r);
    const by = new Map(rows.map((r) => [r.bench, r]));
    for (const name of ['ops_copy_bandwidth', 'instance_norm_forward', 'instance_norm_backward', 'leakyrelu_forward', 'dice_bce_forward_backward', 'adamw_step']) {
      const r = by.get(name)!;
      expect(r.unit).toBe('GB/s');
      expect(Number.isFinite(r.value) && r.value > 0).toBe(true);
      if (name !== 'ops_copy_bandwidth') expect(r.fraction_of_copy).toBeGreaterThan(0);
    }
    for (const impl of ['fused', 'blocked']) {
      const bwd = by.get(`attention_backward_${impl}`)!;
      expect(bwd.unit).toBe('GFLOP/s');
      expect(bwd.value).toBeGreaterThan(0);
      expect(typeof by.get(`attention_forward_${impl}`)!.adapter).toBe('string');
    }
    expect(by.get('attention_backward_fused')!.backward_peak_extra_bytes as number).toBeLessThan(by.get('attention_backward_fused')!.score_matrix_bytes as number);
  });
});
