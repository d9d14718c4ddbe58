// Mixed precision end to end: a small DynUNet and a small flow UNet in precision 'mixed' (f16 activations, f32 master
// weights, dynamic loss scaling). First-step parameter gradients against the f32 run from the same weights and batch,
// a few training steps with falling loss, and the loss scaler skipping a step (and lowering the scale) when the
// gradients overflow.
import { afterAll, describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/tape.js';
import { PairSource, type VolumePair } from '../../src/data/datasets.js';
import type { Engine } from '../../src/engine.js';
import { flowLoss } from '../../src/flow/rectified.js';
import { FlowTrainer, freshFlowUNet } from '../../src/flow/train-node.js';
import { Adam } from '../../src/nn/optim/optimizer.js';
import { LossScaler } from '../../src/nn/optim/scaler.js';
import { diceBceLoss } from '../../src/ops/loss.js';
import { freshDynUNet, Trainer, type TrainOptions } from '../../src/train/trainer.js';
import { roundF16 } from '../../src/tensor/f16.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { compareGrads, randomizeWeights, takeGrads } from './grads.js';
import { TINY, tinyPair } from '../flow/tiny.js';

const GRAD_BOUND = 1e-2;
const LR = 5e-4;
const notes: string[] = [];
afterAll(() => {
  if (notes.length) console.log(`mixed precision (models):\n  ${notes.join('\n  ')}`);
});

/** Two small volumes with a bright tube (the label) on a noisy background. */
function tubes(): VolumePair[] {
  let s = 4242;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return ([[12, 13, 11], [10, 12, 12]] as [number, number, number][]).map((sh, k) => {
    const n = sh[0] * sh[1] * sh[2];
    const image = new Float32Array(n);
    const label = new Uint8Array(n);
    for (let z = 0; z < sh[0]; z++)
      for (let y = 0; y < sh[1]; y++)
        for (let x = 0; x < sh[2]; x++) {
          const i = (z * sh[1] + y) * sh[2] + x;
          const inside = (y - sh[1] / 2) ** 2 + (x - sh[2] / 2 - k) ** 2 < 8;
          label[i] = inside ? 1 : 0;
          image[i] = (inside ? 0.75 : 0.2) + 0.2 * rnd();
        }
    return { name: `tube${k}`, shape: sh, image, label };
  });
}

const OPTS: TrainOptions = { patch: [8, 8, 8], batch: 2, lr: 1e-2, weightDecay: 0.1, schedule: 'constant', seed: 9, augment: false, normalize: 'none' };

describe('mixed precision: DynUNet', () => {
  it(`first-step gradients within ${GRAD_BOUND} of the f32 run (same weights, same batch); logits f32`, async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const net = freshDynUNet(e, [4, 8, 16], 3);
    randomizeWeights(e, net, 100);
    const [P, N] = [8, 2];
    const shape = [N, 1, P, P, P];
    // the input as f16 holds it, so both runs see the same batch and only the arithmetic differs
    const xs = Float64Array.from(randArray(N * P ** 3, 5, 0, 1), roundF16);
    const ys = Float32Array.from(randArray(N * P ** 3, 6), (v) => (v > 0.3 ? 1 : 0));
    const x = e.tensor(xs, shape);
    const y = e.tensor(ys, shape);
    const S = 2 ** 16;
    const run = async (precision: 'f32' | 'mixed') => {
      net.precision = precision;
      const logits = net.forward(x);
      expect(logits.dtype).toBe('f32');
      const out = (await logits.read()) as Float32Array;
      const l = diceBceLoss(logits, y);
      const loss = await l.item();
      backward(l, e.full([], precision === 'mixed' ? S : 1));
      return { out, loss, grads: await takeGrads(net, precision === 'mixed' ? S : 1) };
    };
    const ref = await run('f32');
    const mix = await run('mixed');
    const c = compareGrads(mix.grads, ref.grads);
    const logitErr = relErr(mix.out, ref.out);
    notes.push(`DynUNet [4,8,16] 2×8³: logits ${logitErr.toExponential(2)}, loss ${mix.loss.toFixed(5)} vs ${ref.loss.toFixed(5)}, gradients ${c.global.toExponential(2)} overall, worst tensor ${c.worstName} ${c.worst.toExponential(2)}`);
    expect(logitErr).toBeLessThan(GRAD_BOUND);
    expect(Math.abs(mix.loss - ref.loss)).toBeLessThan(1e-3 * Math.abs(ref.loss));
    expect(c.global).toBeLessThan(GRAD_BOUND);
    expect(c.worst).toBeLessThan(3 * GRAD_BOUND);
    net.dispose();
  });

  it('trains through Trainer with precision mixed: loss falls and tracks the f32 run', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const losses: Record<string, number[]> = {};
    for (const precision of ['f32', 'mixed'] as const) {
      const tr = Trainer.start(e, freshDynUNet(e, [4, 8, 16], 3), [PairSource.fromArrays('tubes', tubes())], [1], { ...OPTS, precision });
      expect(tr.net.precision).toBe(precision);
      const ls: number[] = [];
      for (let s = 0; s < 8; s++) {
        const r = await tr.trainStep();
        if (precision === 'mixed') {
          expect(r.skipped).toBe(false);
          expect(r.scale).toBe(2 ** 16);
        }
        ls.push(r.loss);
      }
      losses[precision] = ls;
      tr.dispose();
      tr.net.dispose();
    }
    const m = losses.mixed;
    const f = losses.f32;
    notes.push(`DynUNet training, 8 steps: mixed ${m.map((v) => v.toFixed(3)).join(' ')}; f32 ${f.map((v) => v.toFixed(3)).join(' ')}`);
    const head = (a: number[]) => (a[0] + a[1]) / 2;
    const tail = (a: number[]) => (a[a.length - 2] + a[a.length - 1]) / 2;
    expect(tail(m)).toBeLessThan(0.9 * head(m));
    // same batches, same start: the mixed run stays within a few percent of the f32 one
    for (let i = 0; i < m.length; i++) expect(Math.abs(m[i] - f[i])).toBeLessThan(0.05 * f[i]);
  });

  it('the loss scaler skips the step and halves the scale when the gradients overflow f16', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    // loss · 2^40 makes the f16 activation gradients overflow to ±inf
    const tr = Trainer.start(e, freshDynUNet(e, [4, 8, 16], 3), [PairSource.fromArrays('tubes', tubes())], [1], { ...OPTS, precision: 'mixed', initScale: 2 ** 40 });
    const before = (await tr.net.parameters()[0].read()) as Float32Array;
    const r = await tr.trainStep();
    expect(r.skipped).toBe(true);
    expect(r.scale).toBe(2 ** 39);
    expect(r.step).toBe(0);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(Array.from((await tr.net.parameters()[0].read()) as Float32Array)).toEqual(Array.from(before));
    expect(tr.opt.params.every((p) => p.grad === null)).toBe(true);
    // a sane scale: the next step goes through
    tr.scaler!.scale = 2 ** 10;
    const r2 = await tr.trainStep();
    expect(r2.skipped).toBe(false);
    expect(r2.step).toBe(1);
    expect(Array.from((await tr.net.parameters()[0].read()) as Float32Array)).not.toEqual(Array.from(before));
    tr.dispose();
    tr.net.dispose();
  });
});

describe('mixed precision: flow UNet', () => {
  const S = 8;
  const flowBatch = (e: Engine) => {
    const { image, mask } = tinyPair(S);
    const n = S * S * S;
    const x1 = new Float32Array(2 * n);
    const m = new Float32Array(2 * n);
    for (let b = 0; b < 2; b++) {
      x1.set(image.map((v) => (b ? 1 - v : v) * 2 - 1), b * n);
      m.set(mask, b * n);
    }
    const shape = [2, 1, S, S, S];
    // data and noise as f16 holds them, so both runs see the same batch
    return { x1: e.tensor(x1.map(roundF16), shape), mask: e.tensor(m, shape), x0: e.tensor(Float64Array.from(randArray(2 * n, 77), roundF16), shape), t: [0.3, 0.8], y: [1, -1] };
  };

  it(`first-step gradients within ${GRAD_BOUND} of the f32 run (same weights, same batch, noise and times)`, async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const net = freshFlowUNet(e, TINY, 5);
    net.train();
    randomizeWeights(e, net, 300);
    const b = flowBatch(e);
    const Sc = 2 ** 16;
    const run = async (precision: 'f32' | 'mixed') => {
      net.precision = precision;
      const l = flowLoss(net, b.x1, b.mask, b.x0, b.t, b.y);
      const loss = await l.item();
      backward(l, e.full([], precision === 'mixed' ? Sc : 1));
      return { loss, grads: await takeGrads(net, precision === 'mixed' ? Sc : 1) };
    };
    const ref = await run('f32');
    const mix = await run('mixed');
    const c = compareGrads(mix.grads, ref.grads);
    notes.push(`flow UNet (TINY) 2×8³: loss ${mix.loss.toFixed(5)} vs ${ref.loss.toFixed(5)}, gradients ${c.global.toExponential(2)} overall, worst tensor ${c.worstName} ${c.worst.toExponential(2)}`);
    expect(Math.abs(mix.loss - ref.loss)).toBeLessThan(2e-3 * Math.abs(ref.loss));
    expect(c.global).toBeLessThan(GRAD_BOUND);
    expect(c.worst).toBeLessThan(3 * GRAD_BOUND);
    net.dispose();
  });

  it('a few scaled Adam steps on a fixed batch lower the loss; FlowTrainer runs mixed and skips an overflowing step', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const b = flowBatch(e);
    const curves: Record<string, number[]> = {};
    for (const precision of ['f32', 'mixed'] as const) {
      const net = freshFlowUNet(e, TINY, 5);
      net.train();
      net.precision = precision;
      const opt = new Adam(net.parameters(), { lr: LR });
      const scaler = new LossScaler();
      const losses: number[] = [];
      for (let s = 0; s < 4; s++) {
        const l = e.scope(() => {
          const loss = flowLoss(net, b.x1, b.mask, b.x0, b.t, b.y);
          if (precision === 'mixed') scaler.backward(loss);
          else backward(loss);
          return loss;
        });
        if (precision === 'mixed') {
          const r = await e.scopeAsync(() => scaler.step(opt, l));
          expect(r.skipped).toBe(false);
          losses.push(r.loss);
        } else {
          opt.step();
          losses.push(await l.item());
        }
        opt.zeroGrad();
        l.dispose();
      }
      curves[precision] = losses;
      opt.dispose();
      net.dispose();
    }
    const [m, f] = [curves.mixed, curves.f32];
    notes.push(`flow UNet, 4 Adam steps (lr ${LR}) on one batch: mixed ${m.map((v) => v.toFixed(4)).join(' ')}; f32 ${f.map((v) => v.toFixed(4)).join(' ')}`);
    expect(m[3]).toBeLessThan(0.85 * m[0]);
    for (let i = 0; i < m.length; i++) expect(Math.abs(m[i] - f[i])).toBeLessThan(0.02 * f[i]);

    const pairs = [0, 1].map((k) => {
      const { image, mask } = tinyPair(S);
      return { name: String(k), shape: [S, S, S] as [number, number, number], image: k ? image.map((v) => 1 - v) : image, label: Uint8Array.from(mask) };
    });
    const tr = FlowTrainer.start(e, freshFlowUNet(e, TINY, 5), PairSource.fromArrays('t', pairs), [0, 2], {
      size: S, batch: 2, lr: 2e-3, seed: 1, emaDecay: 0.995, emaEvery: 10, emaStart: 2000, pDrop: 0.1, augment: true, precision: 'mixed',
    });
    expect(tr.net.precision).toBe('mixed');
    const r1 = await tr.trainStep();
    expect([r1.step, r1.skipped, r1.scale]).toEqual([1, false, 2 ** 16]);
    tr.scaler!.scale = 2 ** 40;
    const r2 = await tr.trainStep();
    expect([r2.step, r2.skipped, r2.scale]).toEqual([1, true, 2 ** 39]);
    tr.dispose();
    tr.net.dispose();
  });
});
