import { describe, expect, it } from 'vitest';
import { convSuite, dynunetCases } from '../../benchmarks/conv.js';
import { findSuite } from '../../benchmarks/registry.js';
import type { BenchResult } from '../../benchmarks/suite.js';
import { getEngine } from '../helpers.js';

describe('bench suite: conv (quick)', () => {
  it('is registered and yields the JSON contract: GFLOP/s per pass with the matmul fraction, tfjs side by side, memory', async () => {
    expect(findSuite('conv')).toBe(convSuite);
    const e = await getEngine();
    const rows: BenchResult[] = [];
    for await (const r of convSuite.run(e, { quick: true })) rows.push(r);
    for (const r of rows) {
      expect(typeof r.bench).toBe('string');
      expect(typeof r.unit).toBe('string');
      expect(Number.isFinite(r.value)).toBe(true);
      // Every row must survive a JSON round trip (the --json output is one object per line).
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    }
    const by = new Map(rows.map((r) => [r.bench, r]));
    const ceiling = by.get('conv.matmul_ceiling')!;
    expect(ceiling.unit).toBe('GFLOP/s');
    expect(ceiling.value).toBeGreaterThan(0);
    const cases = dynunetCases(8, 4);
    for (const c of cases) {
      for (const pass of ['fwd', 'dgrad', 'wgrad']) {
        const r = by.get(`conv.${pass}.${c.name}`);
        expect(r, `conv.${pass}.${c.name}`).toBeDefined();
        expect(r!.unit).toBe('GFLOP/s');
        expect(r!.value).toBeGreaterThan(0);
        // Values are rounded to 4 significant digits; the fraction is computed before rounding.
        const f = r!.value / ceiling.value;
        expect(Math.abs((r!.fraction_of_matmul as number) - f)).toBeLessThanOrEqual(0.01 * f);
        // and the fastest sample against the matmul's fastest, timed at this layer
        const near = (a: unknown, b: number) => expect(Math.abs((a as number) - b)).toBeLessThanOrEqual(0.01 * b);
        expect(r!.best_gflops as number).toBeGreaterThanOrEqual(0.99 * r!.value);
        near(r!.fraction_of_local_matmul, (r!.best_gflops as number) / (r!.local_matmul_gflops as number));
        if (r!.gflop_per_cpu_second !== undefined) {
          expect(r!.local_matmul_gflop_per_cpu_second as number).toBeGreaterThan(0);
          near(r!.fraction_of_local_matmul_cpu, (r!.best_gflop_per_cpu_second as number) / (r!.local_matmul_gflop_per_cpu_second as number));
        }
        expect(typeof r!.variant).toBe('string');
      }
    }
    // Mixed precision rows (f16 activations) beside the f32 ones, with the same-run ratio.
    if (e.gpu.hasF16) {
      for (const name of ['input.conv2', 'down0.conv2', 'down2.conv2', 'up4.transp_conv']) {
        for (const pass of ['fwd', 'dgrad', 'wgrad']) {
          const r = by.get(`conv.f16.${pass}.${name}`);
          expect(r, `conv.f16.${pass}.${name}`).toBeDefined();
          expect(r!.dtype).toBe('f16');
          expect(r!.value).toBeGreaterThan(0);
          const f32 = by.get(`conv.${pass}.${name}`)!;
          expect(Math.abs((r!.vs_f32 as number) - r!.value / f32.value)).toBeLessThanOrEqual(0.01 * (r!.vs_f32 as number) + 1e-3);
        }
      }
    }
    // tfjs either ran (three passes and three speedups) or said why not.
    if (by.has('tfjs.conv3d.unavailable')) {
      expect(typeof by.get('tfjs.conv3d.unavailable')!.reason).toBe('string');
    } else {
      for (const pass of ['fwd', 'dgrad', 'wgrad']) {
        expect(by.get(`tfjs.conv3d.${pass}`)!.value).toBeGreaterThan(0);
        expect(by.get(`conv.speedup_vs_tfjs.${pass}`)!.unit).toBe('x');
      }
    }
    const mem = by.get('conv.stack_fwd_bwd_peak')!;
    expect(mem.unit).toBe('MiB');
    // The peak holds at least the stack's activations and at most a small multiple of them.
    expect(mem.value).toBeGreaterThanOrEqual(mem.activations_mib as number);
    expect(mem.value).toBeLessThan(4 * (mem.activations_mib as number) + 1);
  });
});
