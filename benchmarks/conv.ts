// `vesselfm bench --suite conv`: the DynUNet's conv shapes (spec §1.3) — forward, input gradient and weight
// gradient in GFLOP/s, each as a fraction of the engine's own matmul ceiling measured in the same run on the same
// adapter — TensorFlow.js's WebGPU Conv3D side by side, and the pool's high-water mark for a forward + backward
// of a small conv stack.
//
// Sizes: --size S sets the finest level (S³); deeper levels halve it (never below 4³). The default is S = 24 on
// CPU adapters (lavapipe, SwiftShader) and 128 (the real 128³ patch) elsewhere. FLOPs = 2·N·Cout·Cin·k³·(output
// voxels) per pass (a transposed conv counts its input voxels); all three passes do the same arithmetic.
// Where the adapter has shader-f16, four layers (F16_CASES) also run in mixed precision (f16 activations and
// activation gradients, f32 weights, f32 sums): rows conv.f16.<pass>.<layer>, with vs_f32 = f16 rate / f32 rate
// of the same layer in the same run.
import type { Engine } from '../src/engine.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { DType } from '../src/tensor/dtype.js';
import { chooseVariant, isCpuAdapter, matmulInto, tuneMatmul } from '../kernels/matmul.js';
import {
  conv3dBackwardBias,
  conv3dBackwardInput,
  conv3dBackwardWeight,
  conv3dForward,
  conv3dOutputShape,
  tuneConv3d,
} from '../kernels/conv3d.js';
import {
  convTranspose3dBackwardInput,
  convTranspose3dBackwardWeight,
  convTranspose3dForward,
  convTranspose3dOutputShape,
  tuneConvTranspose3d,
} from '../kernels/convtranspose3d.js';
import { setTuneMode, tuneMode, tuneRecords } from '../kernels/autotune.js';
import { tfjsConv3dTimes } from './tfjs-conv.js';
import { adapterContext, gpuTime, perCpuSecond, type GpuTiming } from './harness.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';

interface ConvCase {
  name: string;
  kind: 'conv' | 'convT';
  n: number;
  cin: number;
  cout: number;
  /** input spatial size (cubic) */
  d: number;
  k: number;
  stride: number;
  padding: number;
}

/** The DynUNet's distinct conv shapes at finest size s (channels 32, 64, 128, 256, 320, 320). */
export function dynunetCases(s: number, channelDiv = 1): ConvCase[] {
  const c = (x: number) => Math.max(1, Math.round(x / channelDiv));
  const lv = (i: number) => Math.max(4, Math.floor(s / 2 ** i));
  const conv = (name: string, cin: number, cout: number, d: number, k: number, stride = 1): ConvCase => ({
    name,
    kind: 'conv',
    n: 1,
    cin,
    cout,
    d,
    k,
    stride,
    padding: k === 3 ? 1 : 0,
  });
  return [
    conv('input.conv1', 1, c(32), lv(0), 3),
    conv('input.conv2', c(32), c(32), lv(0), 3),
    conv('input.conv3_1x1', 1, c(32), lv(0), 1),
    conv('down0.conv1_s2', c(32), c(64), lv(0), 3, 2),
    conv('down0.conv2', c(64), c(64), lv(1), 3),
    conv('down0.conv3_1x1_s2', c(32), c(64), lv(0), 1, 2),
    conv('down1.conv2', c(128), c(128), lv(2), 3),
    conv('down2.conv2', c(256), c(256), lv(3), 3),
    conv('down3.conv2', c(320), c(320), lv(4), 3),
    { name: 'up4.transp_conv', kind: 'convT', n: 1, cin: c(64), cout: c(32), d: lv(1), k: 2, stride: 2, padding: 0 },
    { name: 'up0.transp_conv', kind: 'convT', n: 1, cin: c(320), cout: c(320), d: lv(4), k: 2, stride: 2, padding: 0 },
    conv('up4.conv1', c(64), c(32), lv(0), 3),
  ];
}

function shapesOf(c: ConvCase) {
  const xShape = [c.n, c.cin, c.d, c.d, c.d];
  const wShape = c.kind === 'conv' ? [c.cout, c.cin, c.k, c.k, c.k] : [c.cin, c.cout, c.k, c.k, c.k];
  const opts = { stride: c.stride, padding: c.padding };
  const yShape = c.kind === 'conv' ? conv3dOutputShape(xShape, wShape, opts) : convTranspose3dOutputShape(xShape, wShape, opts);
  const vox = c.kind === 'conv' ? yShape[2] * yShape[3] * yShape[4] : c.d ** 3;
  const flops = 2 * c.n * c.cin * c.cout * c.k ** 3 * vox;
  return { xShape, wShape, yShape, opts, flops };
}

async function timeIt(e: Engine, reps: number, fn: () => void): Promise<GpuTiming> {
  return gpuTime(e, () => e.scope(fn), { warmup: 1, samples: reps });
}

async function wallMs(e: Engine, reps: number, fn: () => void): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    await e.sync();
    const t0 = performance.now();
    e.scope(fn);
    await e.sync();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function rnd(e: Engine, shape: number[], seed: number, dtype: DType = 'f32'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return e.tensor(a, shape, dtype);
}

/** The layers that also run in mixed precision (f16 activations, f32 weights and sums): one per level type. */
const F16_CASES = new Set(['input.conv2', 'down0.conv2', 'down2.conv2', 'up4.transp_conv']);

const gflops = (flops: number, ms: number) => flops / ms / 1e6;
/** Four significant digits (timings and rates), or `d` decimals when given. */
const round = (v: number, d?: number) => (d === undefined ? Number(v.toPrecision(4)) : Number(v.toFixed(d)));

export const convSuite: Suite = {
  name: 'conv',
  description:
    'conv3d / convTranspose3d forward, input and weight gradient on the DynUNet shapes (GFLOP/s, fraction of the matmul ceiling), tfjs-webgpu Conv3D side by side, memory high-water mark',
  async *run(e: Engine, opts: SuiteOptions): AsyncIterable<BenchResult> {
    const quick = opts.quick ?? false;
    // Quick mode (the suite's own test) skips tuning: heuristic variants, one timed repetition.
    const savedMode = tuneMode();
    if (quick) setTuneMode('heuristic');
    try {
      yield* runSuite(e, opts, quick);
    } finally {
      setTuneMode(savedMode);
    }
  },
};

async function* runSuite(e: Engine, opts: SuiteOptions, quick: boolean): AsyncIterable<BenchResult> {
  {
    const cpu = isCpuAdapter(e.gpu);
    const size = opts.size ?? (quick ? 8 : cpu ? 24 : 128);
    const reps = quick ? 1 : 3;
    const ctx = { ...adapterContext(e), quick };

    // 1. The ceiling: the engine's own f32 matmul, tuned, on the same adapter in the same run.
    const m = quick ? 128 : cpu ? 512 : 4096;
    const tm = await tuneMatmul(e, m, m, m, { reps: quick ? 1 : 2, candidates: quick ? [chooseVariant(e, m, m, m).name] : undefined });
    const a = e.full([m, m], 0.5);
    const b = e.full([m, m], 0.25);
    const c = e.empty([m, m]);
    const mm = () => matmulInto(c, a, b, { variant: tm.best });
    const mmT = await timeIt(e, reps, mm);
    const ceiling = gflops(2 * m ** 3, mmT.medianMs);
    // GFLOP per CPU-second (software adapters only): the work, whatever share of the cores this process got.
    const ceilingCpu = perCpuSecond(e, (2 * m ** 3) / 1e9, mmT);
    yield {
      bench: 'conv.matmul_ceiling',
      value: round(ceiling),
      unit: 'GFLOP/s',
      shape: `${m}x${m}x${m}`,
      variant: tm.best,
      ms: round(mmT.medianMs),
      timing: mmT.method,
      ...(ceilingCpu ? { gflop_per_cpu_second: ceilingCpu } : {}),
      ...ctx,
    };

    // 2. The DynUNet shapes (channels ÷4 in quick mode), plus the tfjs comparison shape.
    const tfD = quick ? 8 : 24;
    const tfC = quick ? 4 : 16;
    const cases: ConvCase[] = [
      ...dynunetCases(size, quick ? 4 : 1),
      { name: `tfjs_shape.${tfD}c${tfC}`, kind: 'conv', n: 1, cin: tfC, cout: tfC, d: tfD, k: 3, stride: 1, padding: 1 },
    ];
    const ours: Record<string, number> = {};
    const oursCpu: Record<string, number> = {};
    for (const cs of cases) {
      const { xShape, wShape, yShape, opts: co, flops } = shapesOf(cs);
      // f32, then (where the adapter has shader-f16, for F16_CASES) mixed precision: x, dy f16; w f32; dw f32.
      const dtypes: DType[] = e.gpu.hasF16 && F16_CASES.has(cs.name) ? ['f32', 'f16'] : ['f32'];
      const f32Rate: Record<string, number> = {};
      for (const dt of dtypes) {
        const winners =
          cs.kind === 'conv' ? await tuneConv3d(e, xShape, wShape, co, dt) : await tuneConvTranspose3d(e, xShape, wShape, co, dt);
        const x = rnd(e, xShape, 1, dt);
        const w = rnd(e, wShape, 2);
        const dy = rnd(e, yShape, 3, dt);
        const passes =
          cs.kind === 'conv'
            ? {
                fwd: () => void conv3dForward(x, w, null, co),
                dgrad: () => void conv3dBackwardInput(dy, w, xShape, co),
                wgrad: () => void conv3dBackwardWeight(dy, x, wShape, co),
              }
            : {
                fwd: () => void convTranspose3dForward(x, w, null, co),
                dgrad: () => void convTranspose3dBackwardInput(dy, w, xShape, co),
                wgrad: () => void convTranspose3dBackwardWeight(dy, x, wShape, co),
              };
        // The same matmul again at this layer, interleaved with its passes over `rounds` rounds: each pass's fastest
        // sample against the matmul's fastest, under the conditions they ran in (on a shared machine the run-start
        // ceiling can read 2× off by the time a layer runs, and single samples jitter by ±20 % even when idle).
        const rounds = quick ? 1 : 2;
        const first: Partial<Record<'fwd' | 'dgrad' | 'wgrad', GpuTiming>> = {};
        const fastest = { mm: { wall: Infinity, cpu: Infinity }, fwd: { wall: Infinity, cpu: Infinity }, dgrad: { wall: Infinity, cpu: Infinity }, wgrad: { wall: Infinity, cpu: Infinity } };
        const keep = (k: keyof typeof fastest, t: GpuTiming) => {
          fastest[k].wall = Math.min(fastest[k].wall, t.minMs);
          fastest[k].cpu = Math.min(fastest[k].cpu, t.cpuMinMsPerCall ?? Infinity);
        };
        for (let r = 0; r < rounds; r++) {
          keep('mm', await timeIt(e, reps, mm));
          for (const pass of ['fwd', 'dgrad', 'wgrad'] as const) {
            const t = await timeIt(e, reps, passes[pass]);
            first[pass] ??= t;
            keep(pass, t);
          }
        }
        const soft = perCpuSecond(e, 1, first.fwd!) !== undefined;
        const localCpu = soft && Number.isFinite(fastest.mm.cpu) ? round((2 * m ** 3) / 1e6 / fastest.mm.cpu) : undefined;
        for (const pass of ['fwd', 'dgrad', 'wgrad'] as const) {
          const t = first[pass]!;
          const g = gflops(flops, t.medianMs);
          const bestG = gflops(flops, fastest[pass].wall);
          const localG = gflops(2 * m ** 3, fastest.mm.wall);
          const bestCpu = localCpu && Number.isFinite(fastest[pass].cpu) ? round(flops / 1e6 / fastest[pass].cpu) : undefined;
          const gCpu = perCpuSecond(e, flops / 1e9, t);
          if (dt === 'f32') f32Rate[pass] = g;
          yield {
            bench: dt === 'f32' ? `conv.${pass}.${cs.name}` : `conv.f16.${pass}.${cs.name}`,
            value: round(g),
            unit: 'GFLOP/s',
            dtype: dt,
            fraction_of_matmul: round(g / ceiling),
            ...(gCpu && ceilingCpu ? { gflop_per_cpu_second: gCpu, fraction_of_matmul_cpu: round(gCpu / ceilingCpu) } : {}),
            best_gflops: round(bestG),
            local_matmul_gflops: round(localG),
            fraction_of_local_matmul: round(bestG / localG),
            ...(localCpu && bestCpu ? { best_gflop_per_cpu_second: bestCpu, local_matmul_gflop_per_cpu_second: localCpu, fraction_of_local_matmul_cpu: round(bestCpu / localCpu) } : {}),
            ...(dt === 'f16' ? { vs_f32: round(g / f32Rate[pass]) } : {}),
            ms: round(t.medianMs),
            timing: t.method,
            x: xShape,
            w: wShape,
            stride: cs.stride,
            padding: cs.padding,
            variant: winners[pass],
            ...ctx,
          };
          if (dt === 'f32' && cs.name.startsWith('tfjs_shape')) {
            ours[pass] = await wallMs(e, reps, passes[pass]);
            if (t.cpuMsPerCall) oursCpu[pass] = t.cpuMsPerCall;
          }
        }
        [x, w, dy].forEach((t) => t.dispose());
      }
    }

    // 3. TensorFlow.js WebGPU, same shape, same adapter, wall time with a scalar readback (ours: wall time to
    //    queue completion).
    try {
      const t = await tfjsConv3dTimes(e.gpu.gpu, tfD, tfC, tfC, reps);
      const flops = 2 * tfD ** 3 * tfC * tfC * 27;
      const soft = e.gpu.info.isFallbackAdapter || e.gpu.info.architecture === 'software';
      for (const pass of ['fwd', 'dgrad', 'wgrad'] as const) {
        const cpuMs = t.cpuMs[pass];
        yield {
          bench: `tfjs.conv3d.${pass}`,
          value: round(gflops(flops, t[pass])),
          unit: 'GFLOP/s',
          ms: round(t[pass]),
          timing: 'wall-with-scalar-readback',
          ...(soft && cpuMs > 0 ? { gflop_per_cpu_second: round(flops / 1e9 / (cpuMs / 1000)) } : {}),
          shape: `1x${tfD}^3x${tfC}->${tfC}`,
          tfjs: t.version,
          ...ctx,
        };
        // Wall time (both sides to GPU completion) and, on software adapters, process CPU time per call (the
        // shaders run on this process's threads, so it measures the work even when other jobs share the cores).
        yield {
          bench: `conv.speedup_vs_tfjs.${pass}`,
          value: round(t[pass] / ours[pass], 3),
          unit: 'x',
          ours_ms: round(ours[pass]),
          tfjs_ms: round(t[pass]),
          ...(soft && oursCpu[pass] && cpuMs > 0 ? { speedup_cpu_time: round(cpuMs / oursCpu[pass], 3), ours_cpu_ms: round(oursCpu[pass]), tfjs_cpu_ms: round(cpuMs) } : {}),
          shape: `1x${tfD}^3x${tfC}->${tfC}`,
          ...ctx,
        };
      }
    } catch (err) {
      yield { bench: 'tfjs.conv3d.unavailable', value: 0, unit: 'flag', reason: String((err as Error).message).split('\n')[0], ...ctx };
    }

    // 4. Memory: forward + backward of a small conv stack (the input block and one downsampling block's convs),
    //    activations kept for backward and released as soon as backward is done with them.
    yield await stackMemory(e, quick ? 8 : Math.min(size, 32), quick ? 8 : 32, ctx);

    [a, b, c].forEach((t) => t.dispose());
    // The autotuner's decisions, for the record.
    yield { bench: 'conv.autotune_decisions', value: tuneRecords().length, unit: 'count', decisions: tuneRecords().map((r) => `${r.kernel} ${r.shapeClass} → ${r.winner}`), ...ctx };
  }
}

async function stackMemory(e: Engine, d: number, ch: number, ctx: Record<string, unknown>): Promise<BenchResult> {
  await e.sync();
  const pool = e.rt.pool;
  const base = pool.stats.inUseBytes;
  pool.resetPeak();
  const layers = [
    { w: [ch, 1, 3, 3, 3], s: 1 },
    { w: [ch, ch, 3, 3, 3], s: 1 },
    { w: [2 * ch, ch, 3, 3, 3], s: 2 },
    { w: [2 * ch, 2 * ch, 3, 3, 3], s: 1 },
  ];
  let activationBytes = 0;
  let weightBytes = 0;
  e.scope(() => {
    const ws = layers.map((l, i) => rnd(e, l.w, 10 + i));
    const biases = layers.map((l) => e.zeros([l.w[0]]));
    weightBytes = ws.reduce((s, w) => s + w.size * 4, 0);
    const acts: Tensor[] = [rnd(e, [1, 1, d, d, d], 7)];
    for (let i = 0; i < layers.length; i++) acts.push(conv3dForward(acts[i], ws[i], biases[i], { stride: layers[i].s, padding: 1 }));
    activationBytes = acts.reduce((s, t) => s + t.size * 4, 0);
    let dy = e.full(acts[acts.length - 1].shape as number[], 1e-3);
    for (let i = layers.length - 1; i >= 0; i--) {
      const o = { stride: layers[i].s, padding: 1 };
      const dw = conv3dBackwardWeight(dy, acts[i], layers[i].w, o);
      const db = conv3dBackwardBias(dy);
      const dx = i > 0 ? conv3dBackwardInput(dy, ws[i], acts[i].shape, o) : null;
      dw.dispose();
      db.dispose();
      dy.dispose();
      acts[i + 1].dispose();
      if (!dx) break;
      dy = dx;
    }
  });
  await e.sync();
  const peak = pool.stats.peakInUseBytes - base;
  return {
    bench: 'conv.stack_fwd_bwd_peak',
    value: round(peak / 2 ** 20, 2),
    unit: 'MiB',
    activations_mib: round(activationBytes / 2 ** 20, 2),
    weights_mib: round(weightBytes / 2 ** 20, 2),
    high_water_allocated_mib: round(pool.stats.highWaterBytes / 2 ** 20, 2),
    stack: `4 convs 1→${ch}→${ch}→${2 * ch}(s2)→${2 * ch} at ${d}^3`,
    ...ctx,
  };
}

export default convSuite;
