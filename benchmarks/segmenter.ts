// Suite `segmenter`: the vesselFM DynUNet end to end on this adapter.
//   inference: windows/s of a batched forward pass (no gradients), the conv FLOP rate it implies and its fraction of
//              the f32 matmul ceiling measured in the same run, and the pool's memory high-water mark; on adapters
//              with shader-f16 the same forward in mixed precision (segment --precision mixed) beside it;
//   volume:    segmentVolume end to end over a [S, 2S, 2S] volume (GPU and quick runs), beside the forward-only rate;
//   training:  one step (forward, Dice+BCE, backward, AdamW) in ms, its FLOP rate and fraction of the same ceiling,
//              and the memory high-water mark (weights, gradients, AdamW moments and activations); on adapters with
//              shader-f16 the same step again in mixed precision (f16 activations, f32 master weights, loss scaling).
// Sizes follow the adapter: a real GPU gets the vesselFM setting (128³ windows, inference batch 4, training batch 2,
// filters 32…320: the H200 PyTorch anchors in ../shared/spec/anchors.md); a CPU driver gets 32³ windows at batch 1
// (--size 64 for 64³). --quick (the suite's own test) shrinks the filters 8× as well.
//
// FLOPs are counted from the layer shapes (dynunetLayers): 2·Cin·Cout·k³ per output voxel of a conv, per input
// voxel of a transposed conv. A training step counts the forward, every weight gradient and every input gradient
// except the image's (the first layer's inputs need none); the loss, norms, activations and optimizer are not
// counted (they are memory-bound, a few % of the time on a GPU).
import type { Engine } from '../src/engine.js';
import { backward, noGrad } from '../src/autograd/tape.js';
import { segmentVolume } from '../src/eval/inference.js';
import { fmtBytes } from '../src/runtime/pool.js';
import { DynUNet, VESSELFM_FILTERS } from '../src/models/dynunet.js';
import { manualSeed } from '../src/nn/init.js';
import { AdamW } from '../src/nn/optim/optimizer.js';
import { diceBceLoss } from '../src/ops/loss.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { chooseVariant, isCpuAdapter, matmulInto } from '../kernels/matmul.js';
import { setTuneMode, tuneMode, tuneRecords } from '../kernels/autotune.js';
import { tuneConv3d } from '../kernels/conv3d.js';
import { tuneConvTranspose3d } from '../kernels/convtranspose3d.js';
import { unscaleCheck } from '../kernels/optim.js';
import { adapterContext, gpuTime, perCpuSecond, result, round } from './harness.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';

/** The H200 PyTorch fp32 figures for the full-size setting (anchors.md), quoted next to ours at 128³. */
export const H200_PYTORCH_FP32 = { inference_windows_per_s: 30.1, train_step_ms: 399, train_peak_gib: 12.8 };

export interface ConvLayer {
  name: string;
  kind: 'conv' | 'convT';
  cin: number;
  cout: number;
  k: number;
  stride: number;
  /** input spatial size per axis */
  inSize: number;
  /** output spatial size per axis */
  outSize: number;
  /** multiply-adds per sample */
  macs: number;
  /** true when its input is the image (no input gradient is needed in training) */
  readsImage: boolean;
}

/** Every conv and transposed conv of a DynUNet (MONAI topology, spec §1.3) for a cubic window of edge `size`. */
export function dynunetLayers(filters: readonly number[], size: number, inChannels = 1, outChannels = 1): ConvLayer[] {
  const L = filters.length;
  const side = (level: number) => size / 2 ** level;
  const out: ConvLayer[] = [];
  const conv = (name: string, cin: number, cout: number, k: number, stride: number, inSize: number, readsImage = false) => {
    const o = inSize / stride;
    out.push({ name, kind: 'conv', cin, cout, k, stride, inSize, outSize: o, macs: cin * cout * k ** 3 * o ** 3, readsImage });
  };
  const res = (name: string, cin: number, cout: number, stride: number, inSize: number, readsImage = false) => {
    conv(`${name}.conv1`, cin, cout, 3, stride, inSize, readsImage);
    conv(`${name}.conv2`, cout, cout, 3, 1, inSize / stride);
    if (cin !== cout || stride !== 1) conv(`${name}.conv3`, cin, cout, 1, stride, inSize, readsImage);
  };
  res('input_block', inChannels, filters[0], 1, side(0), true);
  for (let i = 1; i < L - 1; i++) res(`downsamples.${i - 1}`, filters[i - 1], filters[i], 2, side(i - 1));
  res('bottleneck', filters[L - 2], filters[L - 1], 2, side(L - 2));
  for (let j = 0; j < L - 1; j++) {
    const cin = filters[L - 1 - j];
    const cout = filters[L - 2 - j];
    const sIn = side(L - 1 - j);
    out.push({ name: `upsamples.${j}.transp_conv`, kind: 'convT', cin, cout, k: 2, stride: 2, inSize: sIn, outSize: 2 * sIn, macs: cin * cout * 8 * sIn ** 3, readsImage: false });
    conv(`upsamples.${j}.conv_block.conv1`, 2 * cout, cout, 3, 1, 2 * sIn);
    conv(`upsamples.${j}.conv_block.conv2`, cout, cout, 3, 1, 2 * sIn);
  }
  conv('output_block', filters[0], outChannels, 1, 1, side(0));
  return out;
}

/** Forward multiply-adds per window, and FLOPs of one training step per window (forward + both gradients). */
export function dynunetFlops(filters: readonly number[], size: number): { forwardMacs: number; forwardFlops: number; trainFlops: number } {
  const layers = dynunetLayers(filters, size);
  let fwd = 0;
  let train = 0;
  for (const l of layers) {
    fwd += l.macs;
    train += l.macs * (l.readsImage ? 2 : 3);
  }
  return { forwardMacs: fwd, forwardFlops: 2 * fwd, trainFlops: 2 * train };
}

/** Time every conv shape of the network once per candidate kernel, so later calls use the fastest (GPU only). */
async function tuneNetwork(e: Engine, layers: ConvLayer[], batch: number): Promise<void> {
  const seen = new Set<string>();
  for (const l of layers) {
    const key = `${l.kind}:${l.cin}:${l.cout}:${l.k}:${l.stride}:${l.inSize}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const x = [batch, l.cin, l.inSize, l.inSize, l.inSize];
    if (l.kind === 'conv') await tuneConv3d(e, x, [l.cout, l.cin, l.k, l.k, l.k], { stride: l.stride, padding: l.k === 3 ? 1 : 0 });
    else await tuneConvTranspose3d(e, x, [l.cin, l.cout, 2, 2, 2], { stride: 2 });
  }
}

function randomTensor(e: Engine, shape: number[], seed: number, binary = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    a[i] = binary ? (u < 0.1 ? 1 : 0) : u;
  }
  return e.tensor(a, shape);
}

const GiB = 1024 ** 3;

interface Setting {
  size: number;
  filters: number[];
  inferBatch: number;
  trainBatch: number;
  samples: number;
  tune: boolean;
}

function settingFor(e: Engine, opts: SuiteOptions): Setting {
  const cpu = isCpuAdapter(e.gpu);
  if (opts.quick) return { size: opts.size ?? 32, filters: VESSELFM_FILTERS.map((f) => f / 8), inferBatch: 1, trainBatch: 1, samples: 1, tune: false };
  if (cpu) return { size: opts.size ?? 32, filters: [...VESSELFM_FILTERS], inferBatch: 1, trainBatch: 1, samples: 2, tune: false };
  return { size: opts.size ?? 128, filters: [...VESSELFM_FILTERS], inferBatch: 4, trainBatch: 2, samples: 5, tune: true };
}

/** Run `fn` once from an empty pool cache; the pool's peak bytes in use and allocated during it. */
async function memoryOf(e: Engine, fn: () => void): Promise<{ peakInUse: number; highWater: number }> {
  await e.sync();
  e.rt.pool.trim();
  e.rt.pool.resetPeak();
  fn();
  await e.sync();
  const s = e.rt.pool.stats;
  return { peakInUse: s.peakInUseBytes, highWater: s.highWaterBytes };
}

async function* run(e: Engine, opts: SuiteOptions): AsyncGenerator<BenchResult> {
  const set = settingFor(e, opts);
  const S = set.size;
  if (!Number.isInteger(S) || S < 32 || S % 32 !== 0) throw new Error(`segmenter suite: --size must be a multiple of 32 (the DynUNet divisor), got ${S}`);
  const cpu = isCpuAdapter(e.gpu);
  const flops = dynunetFlops(set.filters, S);
  const full = S === 128 && set.filters.join() === VESSELFM_FILTERS.join();
  const base = {
    ...adapterContext(e),
    window: [S, S, S],
    filters: set.filters,
    gmac_per_window: round(flops.forwardMacs / 1e9),
  };

  // The ceiling: f32 matmul with the variant this adapter's autotuner or heuristic picks, measured now.
  const n = opts.quick ? 128 : cpu ? 512 : 4096;
  let ceiling: number;
  {
    const a = e.full([n, n], 0.5);
    const b = e.full([n, n], 0.25);
    const c = e.empty([n, n]);
    try {
      const v = chooseVariant(e, n, n, n);
      const t = await gpuTime(e, () => matmulInto(c, a, b, { variant: v.name }), { samples: opts.quick ? 2 : 5, targetMs: 100 });
      ceiling = (2 * n ** 3) / (t.medianMs * 1e6);
      const check = (await c.read())[n * n - 1];
      if (Math.abs(check - 0.125 * n) > 1e-3 * n) throw new Error(`matmul ceiling produced ${check}, expected ${0.125 * n}`);
      yield result(`segmenter_matmul_ceiling_${n}`, ceiling, 'GFLOP/s', { ...adapterContext(e), variant: v.name, ms: round(t.medianMs), timing: t.method });
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  }

  manualSeed(e, 404);
  const net = new DynUNet(e, { filters: set.filters });
  const savedMode = tuneMode();
  try {
    const params = net.numParameters();
    const ctx = { ...base, parameters: params };
    const layers = dynunetLayers(set.filters, S);

    // ---- inference ----
    net.eval();
    // One batch's largest activation must fit a storage binding (2 GiB − 4 on an H200: 128³ fits 3 windows, not 4).
    const perSample = Math.max(...layers.map((l) => Math.max(l.cin * l.inSize ** 3, l.cout * l.outSize ** 3))) * 4;
    const B = Math.max(1, Math.min(set.inferBatch, Math.floor(e.rt.maxBinding / perSample)));
    const x = randomTensor(e, [B, 1, S, S, S], 1);
    const forward = () => noGrad(() => net.forward(x)).dispose();
    const measureInference = async (label: string, tuned: boolean): Promise<BenchResult[]> => {
      const mem = await memoryOf(e, forward);
      const t = await gpuTime(e, forward, { warmup: 1, samples: set.samples, callsPerSample: 1 });
      const wps = (B * 1000) / t.medianMs;
      const gflops = (B * flops.forwardFlops) / (t.medianMs * 1e6);
      const c = { ...ctx, batch: B, ...(B < set.inferBatch ? { batch_asked: set.inferBatch, batch_capped_by: `storage binding limit ${fmtBytes(e.rt.maxBinding)}` } : {}), kernels: tuned ? 'autotuned' : 'heuristic' };
      return [
        result(`segmenter_inference${label}`, wps, 'windows/s', {
          ...c,
          ms_per_batch: round(t.medianMs),
          best_windows_per_s: round((B * 1000) / t.minMs),
          conv_gflops: round(gflops),
          fraction_of_matmul: round(gflops / ceiling, 3),
          windows_per_cpu_second: perCpuSecond(e, B, t),
          ...(full ? { h200_pytorch_fp32_windows_per_s: H200_PYTORCH_FP32.inference_windows_per_s } : {}),
          timing: t.method,
          samples: t.samples,
        }),
        result(`segmenter_inference${label}_memory`, mem.peakInUse / GiB, 'GiB', {
          ...c,
          peak_in_use_bytes: mem.peakInUse,
          high_water_bytes: mem.highWater,
          high_water: fmtBytes(mem.highWater),
          weights_bytes: params * 4,
        }),
      ];
    };
    try {
      if (set.tune) {
        setTuneMode('heuristic');
        for (const r of await measureInference('_heuristic', false)) yield r;
        setTuneMode('tune');
        await tuneNetwork(e, layers, B);
        await tuneNetwork(e, layers, Math.max(1, Math.min(set.trainBatch, Math.floor(e.rt.maxBinding / perSample))));
      } else setTuneMode('heuristic');
      const inferenceRows = await measureInference('', set.tune);
      for (const r of inferenceRows) yield r;
      // The same forward in mixed precision (segment --precision mixed): f16 activations, f32 weights and sums;
      // tensor-core convs where the adapter has them (the default for f16 on GPUs).
      if (e.gpu.hasF16) {
        net.precision = 'mixed';
        try {
          for (const r of await measureInference('_mixed', set.tune)) {
            yield { ...r, precision: 'mixed (f16 activations)', ...(r.unit === 'windows/s' ? { vs_f32: round(r.value / inferenceRows[0].value, 3) } : { vs_f32: round(r.value / inferenceRows[1].value, 3) }) };
          }
        } finally {
          net.precision = 'f32';
        }
      }
      // End to end: segmentVolume over a [S, 2S, 2S] volume (MONAI grid at 50 % overlap: 1 × 3 × 3 windows) —
      // percentile scaling, window crops and logit accumulation on the GPU, readback, sigmoid, threshold.
      // Skipped at the full network's size on CPU adapters (minutes per window there).
      if (opts.quick || !cpu) {
        const shape: [number, number, number] = [S, 2 * S, 2 * S];
        const vol = new Float32Array(S * 4 * S * S);
        let seed = 7;
        for (let i = 0; i < vol.length; i++) {
          seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
          vol[i] = seed / 2 ** 32;
        }
        await segmentVolume(net, vol, shape, { patch: S, batch: B, mode: 'gpu' }); // warm-up
        const r = await segmentVolume(net, vol, shape, { patch: S, batch: B, mode: 'gpu' });
        const wps = r.windows / r.seconds;
        yield result('segmenter_volume', wps, 'windows/s', {
          ...ctx,
          volume: shape,
          windows: r.windows,
          batch: r.batch,
          mode: r.mode,
          seconds: round(r.seconds),
          ratio_to_forward_only: round(wps / inferenceRows[0].value, 3),
          timing: 'wall, one call after a warm-up call',
        });
      }
      const y = noGrad(() => net.forward(x));
      const v = await y.read();
      y.dispose();
      if (!v.every(Number.isFinite)) throw new Error('segmenter inference produced non-finite logits');
    } finally {
      x.dispose();
    }

    // ---- training step ----
    net.train();
    const TB = Math.max(1, Math.min(set.trainBatch, Math.floor(e.rt.maxBinding / perSample)));
    const xt = randomTensor(e, [TB, 1, S, S, S], 2);
    const target = randomTensor(e, [TB, 1, S, S, S], 3, true);
    const opt = new AdamW(net.parameters(), { lr: 1e-4, weightDecay: 1e-2 });
    try {
      const step = () =>
        e.scope(() => {
          const loss = diceBceLoss(net.forward(xt), target);
          backward(loss);
          opt.step();
          opt.zeroGrad();
        });
      // Timed first: the warm-up step allocates AdamW's moments, so the memory measured next is a steady-state
      // step's (moments held throughout, as in every step of a real run; measured on the first step the peak in use
      // would miss them, since they are created after backward has freed the activations).
      const t = await gpuTime(e, step, { warmup: 1, samples: set.samples, callsPerSample: 1 });
      const mem = await memoryOf(e, step);
      const gflops = (TB * flops.trainFlops) / (t.medianMs * 1e6);
      const loss = e.scope(() => noGrad(() => diceBceLoss(net.forward(xt), target)));
      const lv = await loss.item();
      loss.dispose();
      if (!Number.isFinite(lv)) throw new Error(`segmenter training step produced a non-finite loss (${lv})`);
      const c = { ...ctx, batch: TB, kernels: set.tune ? 'autotuned' : 'heuristic', loss: 'dice 0.9 + bce 0.1', optimizer: 'AdamW' };
      yield result('segmenter_train_step', t.medianMs, 'ms', {
        ...c,
        best_ms: round(t.minMs),
        conv_gflops: round(gflops),
        fraction_of_matmul: round(gflops / ceiling, 3),
        train_gflop_per_window: round(flops.trainFlops / 1e9),
        cpu_ms_per_step: t.cpuMsPerCall !== undefined && cpu ? round(t.cpuMsPerCall) : undefined,
        loss_after: round(lv),
        ...(full ? { h200_pytorch_fp32_ms: H200_PYTORCH_FP32.train_step_ms } : {}),
        timing: t.method,
        samples: t.samples,
      });
      yield result('segmenter_train_memory', mem.peakInUse / GiB, 'GiB', {
        ...c,
        peak_in_use_bytes: mem.peakInUse,
        high_water_bytes: mem.highWater,
        high_water: fmtBytes(mem.highWater),
        ...(full ? { h200_pytorch_fp32_peak_gib: H200_PYTORCH_FP32.train_peak_gib } : {}),
      });
      // ---- the same step in mixed precision (adapters with shader-f16) ----
      if (e.gpu.hasF16) for (const r of await mixedStepRows(e, net, opt, xt, target, set, { ...c, f32_ms: round(t.medianMs), f32_peak_in_use_bytes: mem.peakInUse }, t.medianMs, mem.peakInUse)) yield r;
    } finally {
      opt.dispose();
      xt.dispose();
      target.dispose();
    }
    if (set.tune) {
      const recs = tuneRecords().filter((r) => r.kernel.startsWith('conv'));
      yield result('segmenter_tuned_kernels', recs.length, 'shapes', {
        ...base,
        winners: Object.fromEntries(recs.map((r) => [`${r.kernel} ${r.shapeClass}`, r.winner])),
      });
    }
  } finally {
    setTuneMode(savedMode);
    net.dispose();
  }
}

/**
 * One training step in mixed precision (net.precision 'mixed': f16 activations, f32 master weights) with the loss
 * scaler's GPU work — backward from loss·S, unscale with the overflow check, AdamW — timed and measured like the f32
 * step. The scaler's one 8-byte readback (loss and flag) is left out, as the f32 row leaves out the loss readback;
 * the flag is read once at the end to confirm that no step overflowed.
 */
async function mixedStepRows(
  e: Engine,
  net: DynUNet,
  opt: AdamW,
  xt: Tensor,
  target: Tensor,
  set: Setting,
  ctx: Record<string, unknown>,
  f32Ms: number,
  f32Peak: number,
): Promise<BenchResult[]> {
  const S = 2 ** 16;
  const flag = e.keep(e.zeros([1], 'u32'));
  net.precision = 'mixed';
  try {
    const step = () =>
      e.scope(() => {
        const loss = diceBceLoss(net.forward(xt), target);
        backward(loss, e.full([], S));
        for (const p of opt.params) if (p.grad) unscaleCheck(p.grad, 1 / S, flag);
        opt.step();
        opt.zeroGrad();
      });
    const mem = await memoryOf(e, step);
    const t = await gpuTime(e, step, { warmup: 1, samples: set.samples, callsPerSample: 1 });
    const overflow = (await flag.read())[0];
    if (overflow !== 0) throw new Error('segmenter mixed-precision step: the gradients overflowed at loss scale 2^16');
    const c = { ...ctx, precision: 'mixed (f16 activations, f32 master weights, loss scale 2^16)' };
    return [
      result('segmenter_train_step_mixed', t.medianMs, 'ms', {
        ...c,
        best_ms: round(t.minMs),
        speedup_vs_f32: round(f32Ms / t.medianMs, 3),
        cpu_ms_per_step: t.cpuMsPerCall !== undefined && isCpuAdapter(e.gpu) ? round(t.cpuMsPerCall) : undefined,
        timing: t.method,
        samples: t.samples,
      }),
      result('segmenter_train_memory_mixed', mem.peakInUse / GiB, 'GiB', {
        ...c,
        peak_in_use_bytes: mem.peakInUse,
        high_water_bytes: mem.highWater,
        high_water: fmtBytes(mem.highWater),
        ratio_to_f32: round(mem.peakInUse / f32Peak, 3),
      }),
    ];
  } finally {
    net.precision = 'f32';
    flag.dispose();
  }
}

export const segmenterSuite: Suite = {
  name: 'segmenter',
  description:
    'vesselFM DynUNet: inference windows/s and a training step (Dice+BCE, AdamW) in ms, FLOP rate as a fraction of the same-run matmul ceiling, memory high-water marks',
  run,
};
