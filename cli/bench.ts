// `vesselfm bench --suite <name>`: run a benchmark suite on this adapter. With --json, one JSON object per line
// ({"bench", "value", "unit", ...context}) and nothing else on stdout; otherwise a readable table.
import type { Command } from 'commander';
import { findSuite, suites } from '../benchmarks/registry.js';
import type { BenchResult } from '../benchmarks/suite.js';
import { describeAdapter } from '../src/gpu/device.js';
import { VesselError } from '../src/gpu/errors.js';
import { addDeviceOptions, engineFrom, jsonLine, type DeviceOptions } from './common.js';

interface BenchOptions extends DeviceOptions {
  suite: string;
  json?: boolean;
  size?: string;
  quick?: boolean;
}

/** The context fields worth a column in the table (the rest is in --json). */
function summary(r: BenchResult): string {
  const skip = new Set(['bench', 'value', 'unit', 'adapter', 'fallback']);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (skip.has(k) || v === undefined || typeof v === 'object') continue;
    parts.push(`${k}=${v}`);
  }
  return parts.join(' ');
}

export function registerBench(program: Command): void {
  addDeviceOptions(program.command('bench'))
    .description('measure this adapter: run a benchmark suite (e.g. core: bandwidth and matmul ceilings)')
    .requiredOption('--suite <name>', `suite to run (${suites.map((s) => s.name).join(', ')})`)
    .option('--json', 'one JSON object per result line, nothing else on stdout')
    .option('--size <n>', 'size hint for the suite (core: the matmul n of n³)')
    .option('--quick', 'small shapes and few repetitions (seconds, not minutes)')
    .action(async (opts: BenchOptions) => {
      const suite = findSuite(opts.suite);
      if (!suite) {
        throw new VesselError(`Unknown suite "${opts.suite}"; available: ${suites.map((s) => `${s.name} (${s.description})`).join('; ')}`);
      }
      let size: number | undefined;
      if (opts.size !== undefined) {
        size = Number(opts.size);
        if (!Number.isInteger(size) || size < 1) throw new VesselError(`--size must be a positive integer, got "${opts.size}"`);
      }
      const e = await engineFrom(opts);
      try {
        if (!opts.json) {
          process.stdout.write(`suite ${suite.name} on ${describeAdapter(e.gpu.info)}${opts.quick ? ' (quick)' : ''}\n`);
        }
        const rows: BenchResult[] = [];
        for await (const r of suite.run(e, { quick: opts.quick ?? false, size })) {
          if (typeof r.value !== 'number' || !Number.isFinite(r.value)) {
            throw new VesselError(`Suite ${suite.name}: result ${r.bench} has no finite value (${String(r.value)})`);
          }
          if (opts.json) jsonLine(r);
          else {
            rows.push(r);
            process.stdout.write(`  ${r.bench.padEnd(34)} ${String(r.value).padStart(10)} ${r.unit.padEnd(8)} ${summary(r)}\n`);
          }
        }
        if (!opts.json && rows.length === 0) process.stdout.write('  (no results)\n');
      } finally {
        e.destroy();
      }
    });
}
