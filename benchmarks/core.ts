// Suite `core`: this adapter's ceilings. Elementwise bandwidth (the triad a = b·c + d on vec4, next to a plain
// buffer copy measured in the same run) and f32 matmul GFLOP/s (the variant the autotuner picks, next to the other
// variants for comparison). Sizes follow the adapter: software adapters get shapes they finish in seconds.
import type { Engine } from '../src/engine.js';
import { isCpuAdapter, matmulInto, tuneCandidates, tuneMatmul, chooseVariant, usableVariants } from '../kernels/matmul.js';
import { triad } from '../kernels/triad.js';
import { adapterContext, gpuTime, perCpuSecond, result, round, wallTime } from './harness.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';

const MiB = 1024 * 1024;

async function* bandwidth(engine: Engine, opts: SuiteOptions): AsyncGenerator<BenchResult> {
  const cpu = isCpuAdapter(engine.gpu);
  // Bytes per buffer: small enough for a CPU driver, large enough on a GPU to leave its caches far behind.
  let bytes = opts.quick ? 1 * MiB : cpu ? 32 * MiB : 256 * MiB;
  bytes = Math.min(bytes, Math.floor(engine.rt.limits.maxBufferSize / 16) * 16);
  const n = bytes / 4;
  const ctx = { ...adapterContext(engine), bytes_per_buffer: bytes };
  const samples = opts.quick ? 3 : 7;
  const [a, b, c, d] = [engine.empty([n]), engine.full([n], 1.5), engine.full([n], 2), engine.full([n], 0.25)];
  try {
    const copy = await gpuTime(engine, () => engine.rt.copy(b.buffer, 0, a.buffer, 0, bytes), { samples });
    const copyGBs = (2 * bytes) / (copy.medianMs * 1e6);
    yield result('copy_bandwidth', copyGBs, 'GB/s', {
      ...ctx,
      bytes_moved: 2 * bytes,
      best: round((2 * bytes) / (copy.minMs * 1e6)),
      gb_per_cpu_second: perCpuSecond(engine, (2 * bytes) / 1e9, copy),
      ms: round(copy.medianMs),
      timing: copy.method,
      samples: copy.samples,
      calls_per_sample: copy.callsPerSample,
    });
    const t = await gpuTime(engine, () => triad(a, b, c, d), { samples });
    const gbs = (4 * bytes) / (t.medianMs * 1e6);
    yield result('triad_bandwidth', gbs, 'GB/s', {
      ...ctx,
      kernel: 'a = b*c + d, vec4',
      bytes_moved: 4 * bytes,
      best: round((4 * bytes) / (t.minMs * 1e6)),
      gb_per_cpu_second: perCpuSecond(engine, (4 * bytes) / 1e9, t),
      ms: round(t.medianMs),
      ratio_to_copy: round(gbs / copyGBs, 3),
      timing: t.method,
      samples: t.samples,
      calls_per_sample: t.callsPerSample,
    });
    // The triad must have computed something: one value read back (outside the timed region).
    const v = (await a.read())[n - 1];
    if (v !== 1.5 * 2 + 0.25) throw new Error(`triad benchmark produced ${v}, expected 3.25`);
  } finally {
    for (const t of [a, b, c, d]) t.dispose();
  }
}

function matmulSizes(engine: Engine, opts: SuiteOptions): number[] {
  if (opts.size) return [opts.size];
  if (opts.quick) return [96];
  return isCpuAdapter(engine.gpu) ? [512, 1024] : [512, 1024, 4096];
}

async function* matmulBench(engine: Engine, opts: SuiteOptions): AsyncGenerator<BenchResult> {
  const cpu = isCpuAdapter(engine.gpu);
  const samples = opts.quick ? 3 : 5;
  const sizes = matmulSizes(engine, opts);
  for (const n of sizes) {
    const flops = 2 * n * n * n;
    const a = engine.full([n, n], 0.5);
    const b = engine.full([n, n], 0.25);
    const c = engine.empty([n, n]);
    try {
      // Quick runs skip the tuner (it compiles every candidate); full runs time the candidates once per class.
      let tuned: Record<string, number> | undefined;
      let tunedCpu: Record<string, number> | undefined;
      if (!opts.quick) {
        // On software adapters the tuner ranks by process CPU time (robust to other jobs on the cores).
        const r = await tuneMatmul(engine, n, n, n, { reps: 2 });
        tuned = r.timings;
        tunedCpu = r.cpuMs;
      }
      const fast = chooseVariant(engine, n, n, n);
      const ctx = { ...adapterContext(engine), M: n, N: n, K: n };
      const t = await gpuTime(engine, () => matmulInto(c, a, b, { variant: fast.name }), { samples, targetMs: 100 });
      const gflops = flops / (t.medianMs * 1e6);
      yield result(`matmul_f32_${n}`, gflops, 'GFLOP/s', {
        ...ctx,
        variant: fast.name,
        chosen_by: opts.quick ? 'default for adapter' : 'autotuner',
        ...(tuned ? { tuner_ms: Object.fromEntries(Object.entries(tuned).map(([k, v]) => [k, round(v)])) } : {}),
        ...(tunedCpu ? { tuner_cpu_ms: Object.fromEntries(Object.entries(tunedCpu).map(([k, v]) => [k, round(v)])) } : {}),
        best: round(flops / (t.minMs * 1e6)),
        gflop_per_cpu_second: perCpuSecond(engine, flops / 1e9, t),
        ms: round(t.medianMs),
        timing: t.method,
        samples: t.samples,
      });
      const check = (await c.read())[n * n - 1];
      if (Math.abs(check - 0.125 * n) > 1e-3 * n) throw new Error(`matmul benchmark produced ${check}, expected ${0.125 * n}`);
      if (n === sizes[0]) {
        const w = await wallTime(engine, () => matmulInto(c, a, b, { variant: fast.name }), {
          maxTimeS: opts.quick ? 0.3 : 2,
          minSamples: opts.quick ? 2 : 5,
        });
        yield result(`matmul_f32_${n}_wall`, flops / (w.meanMs * 1e6), 'GFLOP/s', {
          ...ctx,
          variant: fast.name,
          ms: round(w.meanMs),
          rme_percent: round(w.rmePercent, 3),
          timing: w.method,
          samples: w.samples,
        });
      }
      // The other variants, for comparison. On CPU drivers the slow ones are timed only at the first size.
      const others = usableVariants(engine.gpu).filter((v) => {
        if (v === fast) return false;
        if (opts.quick) return v.name === 'naive';
        if (cpu && n !== sizes[0]) return tuneCandidates(engine.gpu).includes(v);
        return !(v.name === 'naive' && n > 2048);
      });
      for (const v of others) {
        const tv = await gpuTime(engine, () => matmulInto(c, a, b, { variant: v.name }), { samples: Math.min(samples, 3), targetMs: 100 });
        const g = flops / (tv.medianMs * 1e6);
        yield result(`matmul_f32_${n}_${v.name}`, g, 'GFLOP/s', {
          ...ctx,
          variant: v.name,
          chosen_variant: fast.name,
          chosen_speedup: round(gflops / g, 3),
          best: round(flops / (tv.minMs * 1e6)),
          gflop_per_cpu_second: perCpuSecond(engine, flops / 1e9, tv),
          ms: round(tv.medianMs),
          timing: tv.method,
          samples: tv.samples,
        });
      }
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  }
}

export const coreSuite: Suite = {
  name: 'core',
  description: 'adapter ceilings: elementwise bandwidth (triad vs copy, GB/s) and f32 matmul (GFLOP/s, every variant)',
  async *run(engine: Engine, opts: SuiteOptions): AsyncIterable<BenchResult> {
    yield* bandwidth(engine, opts);
    yield* matmulBench(engine, opts);
  },
};
