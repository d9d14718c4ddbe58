// Suite `flow`: the D_flow network (spec §5.1) on this adapter.
//   train:  one rectified-flow step (upload, noise, forward, MSE, backward, Adam, EMA) in ms and steps/s, with the
//           pool's memory high-water mark;
//   sample: one Euler step = one forward without gradients, in ms, and seconds per 100-step sample.
//   train_step_mixed (adapters with shader-f16): the training step in mixed precision, time and memory beside f32.
// A real GPU gets the upstream network at 128³ (width 64, mult 1,1,2,3,4, attention at 16³, training batch 3) beside
// PyTorch's H200 fp32 figures (../shared/spec/anchors.md: 2,469 ms and 55.5 GiB per training step, 191 ms per
// sampling forward); a CPU driver gets width 32 at 16³ (--size for another edge); --quick shrinks to 8³.
// Timing is wall clock around whole steps that end in one sync (no readback inside).
import { backward, noGrad } from '../src/autograd/tape.js';
import type { Engine } from '../src/engine.js';
import { flowLoss } from '../src/flow/rectified.js';
import { FlowUNet, VESSELFM_FLOW, type FlowUNetConfig } from '../src/models/flow-unet.js';
import { Generator } from '../src/nn/init.js';
import { EMA } from '../src/nn/optim/ema.js';
import { Adam } from '../src/nn/optim/optimizer.js';
import { fmtBytes } from '../src/runtime/pool.js';
import { normal } from '../src/tensor/math.js';
import { isCpuAdapter } from '../kernels/matmul.js';
import { unscaleCheck } from '../kernels/optim.js';
import { adapterContext, result, round } from './harness.js';
import type { BenchResult, Suite, SuiteOptions } from './suite.js';

export const H200_PYTORCH_FLOW = { train_step_ms_fp32: 2469, train_step_ms_tf32: 560, train_peak_gib: 55.5, sample_forward_ms_fp32: 191 };

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
    for (const t of [x1, mask, xs, ms]) t.dispose();
    net.dispose();
  },
};
