// Suite `flow`: the D_flow network (spec §5.1) on this adapter.
//   train:  one rectified-flow step (upload, noise, forward, MSE, backward, Adam, EMA) in ms and steps/s, with the
//           pool's memory high-water mark;
//   sample: one Euler step = one forward without gradients, in ms, and seconds per 100-step sample;
//   sample_batch: the Euler sampler with CFG on 1 mask and on n masks at once (network batch 2n), seconds per
//           100-step sample (wall, and process-CPU seconds on a software adapter; best of 3 alternating rounds) and
//           the speed-up of batching.
//   train_step_mixed (adapters with shader-f16): the training step in mixed precision, time and memory beside f32.
// A real GPU gets the upstream network at 128³ (width 64, mult 1,1,2,3,4, attention at 16³, training batch 3) beside
// PyTorch's H200 fp32 figures (../shared/spec/anchors.md: 2,469 ms and 55.5 GiB per training step, 191 ms per
// sampling forward); a CPU driver gets width 32 at 16³ (--size for another edge); --quick shrinks to 8³.
// Timing is wall clock around whole steps that end in one sync (no readback inside).
import { backward, noGrad } from '../src/autograd/tape.js';
import type { Engine } from '../src/engine.js';
import { flowLoss } from '../src/flow/rectified.js';
import { eulerSample } from '../src/flow/sample.js';
import { FlowUNet, VESSELFM_FLOW, type FlowUNetConfig } from '../src/models/flow-unet.js';
import { Generator } from '../src/nn/init.js';
import { EMA } from '../src/nn/optim/ema.js';
import { Adam } from '../src/nn/optim/optimizer.js';
import { fmtBytes } from '../src/runtime/pool.js';
import { normal } from '../src/tensor/math.js';
import { isCpuAdapter } from '../kernels/matmul.js';
import { unscaleCheck } from '../kernels/optim.js';
import { adapterContext, hostLoad, result, round } from './harness.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';

export const H200_PYTORCH_FLOW = { train_step_ms_fp32: 2469, train_step_ms_tf32: 560, train_peak_gib: 55.5, sample_forward_ms_fp32: 191 };

/** Process CPU seconds (Node), or null where the runtime cannot tell (browsers). */
function cpuSeconds(): number | null {
  if (typeof process === 'undefined' || typeof process.cpuUsage !== 'function') return null;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function timeIt(e: Engine, fn: () => void, reps: number): Promise<number> {
  fn();
  await e.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    fn();
    await e.sync();
  }
  return (performance.now() - t0) / reps;
}

export const flowSuite: Suite = {
  name: 'flow',
  description: 'D_flow UNet: rectified-flow training step and Euler sampling step (one forward)',
  async *run(e: Engine, o: SuiteOptions): AsyncIterable<BenchResult> {
    const gpu = !isCpuAdapter(e.gpu);
    const S = o.quick ? 8 : (o.size ?? (gpu ? 128 : 16));
    const cfg: Partial<FlowUNetConfig> = gpu && S >= 128 && !o.quick
      ? { ...VESSELFM_FLOW }
      : { imageSize: S, modelChannels: 32, channelMult: S >= 16 ? [1, 2, 2] : [1, 2], attentionResolutions: [Math.max(2, S / 4)], numClasses: 24 };
    const B = gpu && !o.quick ? 3 : o.quick ? 1 : 2;
    const reps = o.quick ? 1 : gpu ? 3 : 2;
    const net = new FlowUNet(e, cfg, new Generator(1));
    const ctx = { ...adapterContext(e), size: S, width: net.config.modelChannels, mult: net.config.channelMult.join(','), params: net.numParameters() };
    const opt = new Adam(net.parameters(), { lr: 1e-5 });
    const ema = new EMA(net.parameters(), 0.995);
    const shape = [B, 1, S, S, S];
    const n = B * S ** 3;
    const x1 = e.keep(normal(e, shape, 0, 0.5, 3));
    const mask = e.keep(normal(e, shape, 0, 1, 4));
    let step = 0;
    e.rt.pool.trim();
    e.rt.pool.resetPeak();
    const trainMs = await timeIt(
      e,
      () =>
        e.scope(() => {
          const x0 = normal(e, shape, 0, 1, 5, step++ * n);
          const loss = flowLoss(net, x1, mask, x0, Array.from({ length: B }, (_, i) => (i + 1) / (B + 1)), Array.from({ length: B }, (_, i) => i % 24));
          backward(loss);
          opt.step();
          opt.zeroGrad();
          ema.update();
        }),
      reps,
    );
    const peak = e.rt.pool.stats.highWaterBytes;
    const anchor = gpu && S === 128 && B === 3 ? { pytorch_h200_fp32_ms: H200_PYTORCH_FLOW.train_step_ms_fp32, pytorch_h200_peak_gib: H200_PYTORCH_FLOW.train_peak_gib } : {};
    yield result('flow.train_step', trainMs, 'ms', { ...ctx, batch: B, steps_per_s: round(1000 / trainMs), peak_bytes: peak, peak: fmtBytes(peak), ...anchor });
    if (e.gpu.hasF16) {
      // The same step in mixed precision (f16 activations, f32 master weights): backward from loss·2^16, the loss
      // scaler's unscale + overflow check on the GPU, Adam, EMA. The scaler's 8-byte readback is left out, as the
      // f32 row leaves out the loss readback; the flag is read once at the end.
      const LS = 2 ** 16;
      const flag = e.keep(e.zeros([1], 'u32'));
      net.precision = 'mixed';
      e.rt.pool.trim();
      e.rt.pool.resetPeak();
      const mixedMs = await timeIt(
        e,
        () =>
          e.scope(() => {
            const x0 = normal(e, shape, 0, 1, 5, step++ * n);
            const loss = flowLoss(net, x1, mask, x0, Array.from({ length: B }, (_, i) => (i + 1) / (B + 1)), Array.from({ length: B }, (_, i) => i % 24));
            backward(loss, e.full([], LS));
            for (const p of opt.params) if (p.grad) unscaleCheck(p.grad, 1 / LS, flag);
            opt.step();
            opt.zeroGrad();
            ema.update();
          }),
        reps,
      );
      const peakM = e.rt.pool.stats.highWaterBytes;
      const overflow = (await flag.read())[0];
      flag.dispose();
      net.precision = 'f32';
      if (overflow !== 0) throw new Error('flow mixed-precision step: the gradients overflowed at loss scale 2^16');
      yield result('flow.train_step_mixed', mixedMs, 'ms', {
        ...ctx,
        batch: B,
        precision: 'mixed (f16 activations, f32 master weights, loss scale 2^16)',
        steps_per_s: round(1000 / mixedMs),
        speedup_vs_f32: round(trainMs / mixedMs, 3),
        peak_bytes: peakM,
        peak: fmtBytes(peakM),
        peak_ratio_to_f32: round(peakM / peak, 3),
      });
    }
    opt.dispose();
    ema.dispose();
    net.eval();
    const one = [1, 1, S, S, S];
    const xs = e.keep(normal(e, one, 0, 1, 6));
    const ms = e.keep(normal(e, one, 0, 1, 7));
    e.rt.pool.trim();
    e.rt.pool.resetPeak();
    const fwdMs = await timeIt(e, () => e.scope(() => noGrad(() => net.forward(xs, ms, [0.5], [1]))), reps);
    const peakS = e.rt.pool.stats.highWaterBytes;
    const anchorS = gpu && S === 128 ? { pytorch_h200_fp32_ms: H200_PYTORCH_FLOW.sample_forward_ms_fp32 } : {};
    yield result('flow.sample_forward', fwdMs, 'ms', { ...ctx, batch: 1, seconds_per_sample_100_steps: round((fwdMs * 100) / 1000), peak_bytes: peakS, peak: fmtBytes(peakS), ...anchorS });
    // Batched sampling: the Euler sampler with CFG (w = 3, cond + uncond as one network batch) advancing 1 mask,
    // and n masks together (network batch 2n); seconds per sample for 100 steps, wall clock and process CPU. The two
    // are timed in alternation over a few rounds and the best round of each is kept, so that a shared machine's
    // changing load does not favour either.
    const nb = gpu && S >= 128 ? 2 : 4;
    const k = o.quick ? 1 : 2;
    const rounds = o.quick ? 1 : 3;
    const runs = [1, nb].map((b) => {
      const sb = [b, 1, S, S, S];
      const mh = new Float32Array(b * S ** 3);
      for (let i = 0; i < mh.length; i++) mh[i] = (i * 2654435761) % 7 < 2 ? 1 : 0;
      const mb = e.keep(e.tensor(mh, sb));
      const xb = e.keep(normal(e, sb, 0, 1, 8));
      const ys = Array.from({ length: b }, (_, i) => (i * 5) % 24);
      const run = (steps: number) =>
        e.scopeAsync(async () => {
          await eulerSample(net, mb, ys, xb, { steps, guidance: 3 });
          await e.sync();
        });
      return { b, mb, xb, run, wall: Infinity, cpu: Infinity, peak: 0 };
    });
    for (const r of runs) await r.run(1);
    for (let round = 0; round < rounds; round++) {
      for (const r of runs) {
        e.rt.pool.trim();
        e.rt.pool.resetPeak();
        const c0 = cpuSeconds();
        const t0 = performance.now();
        await r.run(k);
        r.wall = Math.min(r.wall, ((performance.now() - t0) / 1000 / k) * (100 / r.b));
        if (c0 !== null) r.cpu = Math.min(r.cpu, ((cpuSeconds()! - c0) / k) * (100 / r.b));
        r.peak = Math.max(r.peak, e.rt.pool.stats.highWaterBytes);
      }
    }
    for (const r of runs) {
      yield result('flow.sample_batch', round(r.wall), 's/sample', {
        ...ctx,
        ...hostLoad(),
        batch: r.b,
        network_batch: 2 * r.b,
        guidance: 3,
        euler_steps_timed: k,
        rounds,
        ...(gpu || !Number.isFinite(r.cpu) ? {} : { cpu_s_per_sample_100_steps: round(r.cpu), cpu_speedup_vs_batch_1: round(runs[0].cpu / r.cpu, 3) }),
        speedup_vs_batch_1: round(runs[0].wall / r.wall, 3),
        peak_bytes: r.peak,
        peak: fmtBytes(r.peak),
      });
      r.mb.dispose();
      r.xb.dispose();
    }
    for (const t of [x1, mask, xs, ms]) t.dispose();
    net.dispose();
  },
};
