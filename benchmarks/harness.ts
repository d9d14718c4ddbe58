// Timing helpers shared by every benchmark suite.
//   gpuTime:   warm-up, then N samples of engine.rt.time (GPU timestamp queries where the adapter has them, else
//              wall clock from submit to completion); median and min.
//   wallTime:  benchmark.js (the `benchmark` package) with deferred benchmarks that resolve after engine.sync(),
//              i.e. wall clock including submission and the driver; mean, relative margin of error, samples.
// Results follow benchmarks/suite.ts: {"bench", "value", "unit", ...context}.
import type { Engine } from '../src/engine.js';
import { describeAdapter } from '../src/gpu/device.js';
import type { BenchResult } from './suite.js';

export interface GpuTiming {
  /** Milliseconds per call (each sample's time divided by the calls it ran). */
  medianMs: number;
  minMs: number;
  samples: number;
  callsPerSample: number;
  method: 'gpu-timestamp' | 'wall-to-completion';
  /**
   * Process CPU milliseconds per call (median over samples), where the runtime can tell (Node). On a software
   * adapter the shader runs on this process's threads, so this measures the work even on a machine whose cores
   * are shared with other jobs, where wall and timestamp figures only measure the share it got.
   */
  cpuMsPerCall?: number;
  /** The fastest sample's process CPU milliseconds per call. */
  cpuMinMsPerCall?: number;
}

const cpuNow: (() => number) | null =
  typeof process !== 'undefined' && typeof process.cpuUsage === 'function'
    ? () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      }
    : null;

export interface GpuTimeOptions {
  /** Untimed runs first (pipelines compile, caches warm). Default 1. */
  warmup?: number;
  /** Timed samples. Default 5. */
  samples?: number;
  /** Calls recorded into each timed sample; by default chosen so a sample lasts about `targetMs`. */
  callsPerSample?: number;
  targetMs?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Time the GPU work that `record` records (it must record, not wait). */
export async function gpuTime(engine: Engine, record: () => void, opts: GpuTimeOptions = {}): Promise<GpuTiming> {
  const warmup = opts.warmup ?? 1;
  const samples = Math.max(1, opts.samples ?? 5);
  for (let i = 0; i < warmup; i++) record();
  await engine.sync();
  let calls = opts.callsPerSample;
  if (!calls) {
    // One probe sample sizes the rest: enough calls that timer resolution and submit overhead vanish.
    const probe = await engine.rt.time(record);
    calls = Math.max(1, Math.min(1000, Math.round((opts.targetMs ?? 50) / Math.max(probe, 1e-3))));
  }
  const per: number[] = [];
  const cpu: number[] = [];
  for (let s = 0; s < samples; s++) {
    const c0 = cpuNow?.() ?? 0;
    const ms = await engine.rt.time(() => {
      for (let c = 0; c < calls!; c++) record();
    });
    if (cpuNow) cpu.push((cpuNow() - c0) / calls);
    per.push(ms / calls);
  }
  return {
    medianMs: median(per),
    minMs: Math.min(...per),
    samples,
    callsPerSample: calls,
    method: engine.gpu.hasTimestamps ? 'gpu-timestamp' : 'wall-to-completion',
    cpuMsPerCall: cpu.length ? median(cpu) : undefined,
    cpuMinMsPerCall: cpu.length ? Math.min(...cpu) : undefined,
  };
}

export interface WallTiming {
  meanMs: number;
  /** Relative margin of error of the mean, in percent (benchmark.js `rme`). */
  rmePercent: number;
  samples: number;
  method: 'benchmark.js';
}

/**
 * Wall-clock timing with benchmark.js: each cycle records the work, submits it and resolves once the GPU is done.
 * `maxTimeS` bounds the time benchmark.js spends (it stops after at least `minSamples` samples).
 */
export async function wallTime(engine: Engine, record: () => void, opts: { maxTimeS?: number; minSamples?: number } = {}): Promise<WallTiming> {
  const { default: Benchmark } = await import('benchmark');
  record();
  await engine.sync();
  return new Promise<WallTiming>((resolve, reject) => {
    const bench = new Benchmark('gpu', {
      defer: true,
      async: true,
      maxTime: opts.maxTimeS ?? 2,
      minSamples: opts.minSamples ?? 5,
      // benchmark.js compiles `fn` into a test function; a deferred one receives the deferred object.
      fn(deferred: { resolve(): void }) {
        record();
        engine.sync().then(() => deferred.resolve(), reject);
      },
      onComplete() {
        const st = bench.stats;
        resolve({ meanMs: st.mean * 1000, rmePercent: st.rme, samples: st.sample.length, method: 'benchmark.js' });
      },
      onError(ev: { target?: { error?: unknown } }) {
        reject(ev.target?.error ?? new Error('benchmark.js failed'));
      },
    });
    bench.run();
  });
}

/** Context every result carries: the adapter, and on a shared machine how busy it was. */
export function adapterContext(engine: Engine): Record<string, unknown> {
  const i = engine.gpu.info;
  return { adapter: describeAdapter(i), fallback: i.isFallbackAdapter, ...hostLoad() };
}

/** Logical CPUs and the 1-minute load average (Node on Unix); {} elsewhere. */
export function hostLoad(): Record<string, number> {
  const os = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process?.getBuiltinModule?.('node:os') as
    | { loadavg(): number[]; availableParallelism?(): number; cpus(): unknown[] }
    | undefined;
  if (!os) return {};
  const load = os.loadavg()[0];
  return { cpus: os.availableParallelism?.() ?? os.cpus().length, ...(load > 0 ? { load_avg_1m: round(load, 3) } : {}) };
}

/**
 * On a software adapter, work per CPU-second: `units` per call divided by the CPU seconds the process spent per
 * call. Multiplied by the core count it estimates the figure on an otherwise idle machine; it stays meaningful
 * when the wall-clock figure is diluted by other jobs. Undefined on real GPUs (the host CPU is not doing the work).
 */
export function perCpuSecond(engine: Engine, units: number, t: GpuTiming): number | undefined {
  if (!t.cpuMsPerCall || t.cpuMsPerCall <= 0) return undefined;
  const i = engine.gpu.info;
  if (!(i.isFallbackAdapter || i.architecture === 'software')) return undefined;
  return round(units / (t.cpuMsPerCall / 1000));
}

export function result(bench: string, value: number, unit: string, context: Record<string, unknown> = {}): BenchResult {
  return { bench, value: round(value), unit, ...context };
}

/** Round to 4 significant digits for readable output (the JSON stays a plain number). */
export function round(v: number, digits = 4): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const p = Math.pow(10, digits - 1 - Math.floor(Math.log10(Math.abs(v))));
  return Math.round(v * p) / p;
}
