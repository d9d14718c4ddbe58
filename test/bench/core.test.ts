// The core suite's JSON contract, in-process and through the real `vesselfm bench` command.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { coreSuite } from '../../benchmarks/core.js';
import { findSuite, suites } from '../../benchmarks/registry.js';
import type { BenchResult } from '../../benchmarks/suite.js';
import { getEngine } from '../helpers.js';

/** Ratios in the output are rounded to 3 significant digits. */
function expectRatio(got: unknown, want: number): void {
  expect(Math.abs((got as number) - want) / want).toBeLessThan(0.01);
}

function checkContract(r: Record<string, unknown>): void {
  expect(typeof r.bench, JSON.stringify(r)).toBe('string');
  expect(typeof r.unit, JSON.stringify(r)).toBe('string');
  expect(typeof r.value, JSON.stringify(r)).toBe('number');
  expect(Number.isFinite(r.value as number) && (r.value as number) > 0, JSON.stringify(r)).toBe(true);
  expect(typeof r.adapter).toBe('string');
}

describe('bench suite: core (quick)', () => {
  it('is registered and yields bandwidth and matmul figures with their context', async () => {
    expect(findSuite('core')).toBe(coreSuite);
    const e = await getEngine();
    const rows: BenchResult[] = [];
    for await (const r of coreSuite.run(e, { quick: true })) rows.push(r);
    for (const r of rows) {
      checkContract(r);
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    }
    const by = new Map(rows.map((r) => [r.bench, r]));
    expect(by.get('copy_bandwidth')!.unit).toBe('GB/s');
    const triad = by.get('triad_bandwidth')!;
    expect(triad.unit).toBe('GB/s');
    expect(triad.bytes_moved).toBe(4 * (triad.bytes_per_buffer as number));
    expectRatio(triad.ratio_to_copy, triad.value / by.get('copy_bandwidth')!.value);
    const mm = by.get('matmul_f32_96')!;
    expect(mm.unit).toBe('GFLOP/s');
    expect(typeof mm.variant).toBe('string');
    expect(by.get('matmul_f32_96_wall')!.timing).toBe('benchmark.js');
    const naive = by.get('matmul_f32_96_naive')!;
    expectRatio(naive.chosen_speedup, mm.value / naive.value);
  });

  it('`vesselfm bench --suite core --json --quick` prints only JSON lines', () => {
    const r = spawnSync(process.execPath, ['bin/vesselfm.mjs', 'bench', '--suite', 'core', '--json', '--quick'], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const line of lines) checkContract(JSON.parse(line));
    expect(lines.map((l) => JSON.parse(l).bench)).toContain('triad_bandwidth');
  });

  it('names the available suites when asked for an unknown one', () => {
    const r = spawnSync(process.execPath, ['bin/vesselfm.mjs', 'bench', '--suite', 'nope', '--json'], { cwd: process.cwd(), encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Unknown suite "nope"; available: /);
    for (const s of suites) expect(r.stderr).toContain(s.name);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('vesselfm:'))).toHaveLength(1);
  });
});
