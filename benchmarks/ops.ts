// Suite `ops`: the network ops outside convolution, each next to a plain buffer copy measured in the same run
// (the bandwidth ceiling for these memory-bound ops), plus attention FLOP rates and its pool high-water mark.
//   instance norm forward/backward (fused f32 statistics), LeakyReLU, Dice+BCE forward+backward, one AdamW step:
//   GB/s of the bytes each must move at minimum, and the fraction of the copy bandwidth;
//   attention softmax(q·kᵀ)·v forward and backward: GFLOP/s, and the pool's peak in-use bytes beside the size the
//   T×S score matrix would have had.
import type { Engine } from '../src/engine.js';
import { isCpuAdapter } from '../kernels/matmul.js';
import { activationForward } from '../kernels/activation.js';
import { groupNormBackward, groupNormForward } from '../kernels/norm.js';
import { diceBceBackward, diceBceForward } from '../kernels/loss.js';
import { adamUpdate } from '../kernels/optim.js';
import { attentionBackward, attentionBackwardBlocked, attentionForward, attentionForwardBlocked } from '../kernels/attention.js';
import { adapterContext, gpuTime, perCpuSecond, result, round, type GpuTiming } from './harness.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';
import type { Tensor } from '../src/tensor/tensor.js';


async function* memoryBound(e: Engine, opts: SuiteOptions): AsyncGenerator<BenchResult> {
  const cpu = isCpuAdapter(e.gpu);
  // [N, C, S]: a DynUNet level's activation (C 32, 64³ on a GPU; 24³ on a CPU driver)
  const side = opts.size ?? (opts.quick ? 12 : cpu ? 24 : 64);
  const N = 2;
  const C = 32;
  const S = side ** 3;
  const n = N * C * S;
  const bytes = n * 4;
  const samples = opts.quick ? 3 : 5;
  const ctx = { ...adapterContext(e), shape: [N, C, side, side, side] };
  const owned: Tensor[] = [];
  const t = <T extends Tensor>(x: T): T => (owned.push(x), x);
  try {
    const x = t(e.full([N, C, S], 0.5));
    e.rt.write(x.buffer, 0, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2 + 0.3));
    const dy = t(e.full([N, C, S], 0.25));
    const tgt = t(e.full([N, C, S], 0));
    const gamma = t(e.full([C], 1.2));
    const beta = t(e.full([C], 0.1));
    const copyDst = t(e.empty([n]));
    const copy = await gpuTime(e, () => e.rt.copy(x.buffer, 0, copyDst.buffer, 0, bytes), { samples });
    const copyGBs = (2 * bytes) / (copy.medianMs * 1e6);
    yield result('ops_copy_bandwidth', copyGBs, 'GB/s', {
      ...ctx,
      bytes_moved: 2 * bytes,
      ms: round(copy.medianMs),
      timing: copy.method,
      gb_per_cpu_second: perCpuSecond(e, (2 * bytes) / 1e9, copy),
    });
    const rate = (name: string, moved: number, t: GpuTiming, extra: Record<string, unknown> = {}) =>
      result(name, moved / (t.medianMs * 1e6), 'GB/s', {
        ...ctx,
        ...extra,
        bytes_moved: moved,
        ms: round(t.medianMs),
        timing: t.method,
        fraction_of_copy: round(moved / (t.medianMs * 1e6) / copyGBs, 3),
        gb_per_cpu_second: perCpuSecond(e, moved / 1e9, t),
      });

    const fwd = await gpuTime(e, () => {
      const r = groupNormForward(x, C, gamma, beta, 1e-5, 'instanceNorm');
      r.y.dispose();
      r.stats.dispose();
    }, { samples });
    // statistics pass reads x, apply pass reads x and writes y
    yield rate('instance_norm_forward', 3 * bytes, fwd, { passes: 'stats (read x) + apply (read x, write y)' });
    const saved = groupNormForward(x, C, gamma, beta, 1e-5, 'instanceNorm');
    owned.push(saved.y, saved.stats);
    const bwd = await gpuTime(e, () => {
      const r = groupNormBackward(x, dy, saved.stats, gamma, C, 'instanceNorm');
      r.dx.dispose();
      r.dgamma.dispose();
      r.dbeta.dispose();
    }, { samples });
    yield rate('instance_norm_backward', 5 * bytes, bwd, { passes: 'sums (read x, dy) + dx (read x, dy, write dx)' });

    const act = await gpuTime(e, () => activationForward(x, 'leakyrelu', 0.01).dispose(), { samples });
    yield rate('leakyrelu_forward', 2 * bytes, act);

    const dice = await gpuTime(e, () => {
      const r = diceBceForward(x, tgt);
      const g = diceBceBackward(x, tgt, r.stats, r.loss);
      for (const z of [r.loss, r.stats, g]) z.dispose();
    }, { samples });
    yield rate('dice_bce_forward_backward', 5 * bytes, dice, { passes: 'sums (read logits, target) + gradient (read both, write)' });

    const m = t(e.zeros([n]));
    const v = t(e.zeros([n]));
    const p = t(e.full([n], 0.1));
    const adam = await gpuTime(e, () => adamUpdate(p, dy, m, v, { flags: 1, lr: 1e-4, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, stepSize: 1e-3, bc2Sqrt: 0.05 }), { samples });
    yield rate('adamw_step', 7 * bytes, adam, { params: n, note: 'reads p, g, m, v; writes p, m, v' });
  } finally {
    for (const z of owned) z.dispose();
  }
}

async function* attentionBench(e: Engine, opts: SuiteOptions): AsyncGenerator<BenchResult> {
  const cpu = isCpuAdapter(e.gpu);
  // the flow model's 16³ level: 4,096 tokens × 192 channels (one head); CPU drivers get a smaller shape
  const T = opts.quick ? 128 : cpu ? 512 : 4096;
  const C = opts.quick ? 32 : cpu ? 64 : 192;
  const ctx = { ...adapterContext(e), batch: 1, tokens: T, channels: C };
  const fill = (seed: number) => {
    const t = e.empty([1, T, C]);
    e.rt.write(t.buffer, 0, Float32Array.from({ length: T * C }, (_, i) => Math.sin(i * 0.13 + seed) * 0.5));
    return t;
  };
  const [q, k, v, dout] = [fill(1), fill(2), fill(3), fill(4)];
  const scale = 1 / Math.sqrt(C);
  const samples = opts.quick ? 2 : 3;
  try {
    for (const impl of ['fused', 'blocked'] as const) {
      const fwdFn = impl === 'fused' ? attentionForward : attentionForwardBlocked;
      const bwdFn = impl === 'fused' ? attentionBackward : attentionBackwardBlocked;
      const flopsF = 4 * T * T * C;
      const f = await gpuTime(e, () => {
        const r = fwdFn(q, k, v, scale);
        r.o.dispose();
        r.lse.dispose();
      }, { samples, warmup: 1, targetMs: 20 });
      yield result(`attention_forward_${impl}`, flopsF / (f.medianMs * 1e6), 'GFLOP/s', {
        ...ctx,
        ms: round(f.medianMs),
        timing: f.method,
        gflop_per_cpu_second: perCpuSecond(e, flopsF / 1e9, f),
      });
      const { o, lse } = fwdFn(q, k, v, scale);
      try {
        // backward: q·kᵀ and dO·vᵀ recomputed, plus dS·k, dSᵀ·q, Pᵀ·dO (the fused kernel recomputes the first two twice)
        const flopsB = 2 * T * T * C * 5;
        await e.sync();
        e.rt.pool.resetPeak();
        const base = e.rt.pool.stats.inUseBytes;
        const b = await gpuTime(e, () => {
          const r = bwdFn(q, k, v, o, lse, dout, scale);
          r.dq?.dispose();
          r.dk?.dispose();
          r.dv?.dispose();
        }, { samples, warmup: 1, targetMs: 20 });
        const peak = e.rt.pool.stats.peakInUseBytes - base;
        yield result(`attention_backward_${impl}`, flopsB / (b.medianMs * 1e6), 'GFLOP/s', {
          ...ctx,
          ms: round(b.medianMs),
          timing: b.method,
          flops_counted: 'five T·S·C products',
          gflop_per_cpu_second: perCpuSecond(e, flopsB / 1e9, b),
          backward_peak_extra_bytes: peak,
          score_matrix_bytes: T * T * 4,
        });
      } finally {
        o.dispose();
        lse.dispose();
      }
    }
  } finally {
    for (const z of [q, k, v, dout]) z.dispose();
  }
}

export const opsSuite: Suite = {
  name: 'ops',
  description: 'network ops outside convolution: norms, activations, loss, AdamW (GB/s vs copy), attention (GFLOP/s, memory)',
  async *run(engine: Engine, opts: SuiteOptions): AsyncIterable<BenchResult> {
    yield* memoryBound(engine, opts);
    yield* attentionBench(engine, opts);
  },
};

