// A small flow network learns one image/mask pair until Euler sampling from fixed noise reproduces the image (and
// the untrained network, sampled the same way, is far off), and a short training run through FlowTrainer lowers
// the loss. Sizes are chosen so that the file runs in about a minute on a 2-core lavapipe machine: a 4³ pair, one
// level of width 32 (so every step is dominated by per-dispatch cost, not arithmetic), a batch of 8 noise draws
// per step, and a cosine-decayed learning rate; the objective is the real one (flowLoss, logit-normal times).
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/tape.js';
import { PairSource } from '../../src/data/datasets.js';
import { CounterRng } from '../../src/data/mix.js';
import { flowLoss, logitNormalTimes } from '../../src/flow/rectified.js';
import { eulerSample } from '../../src/flow/sample.js';
import { FlowTrainer, freshFlowUNet } from '../../src/flow/train-node.js';
import type { FlowUNet } from '../../src/models/flow-unet.js';
import { Adam } from '../../src/nn/optim/optimizer.js';
import { normal } from '../../src/tensor/math.js';
import { getEngine } from '../helpers.js';
import { SMALL, tinyPair } from './tiny.js';

describe('flow training', () => {
  it('overfits one pair: a sample from fixed noise reproduces the image (the untrained network does not)', async () => {
    const e = await getEngine();
    const S = 4;
    const B = 8;
    const net = freshFlowUNet(e, { ...SMALL, imageSize: S }, 7);
    net.checkpointing = 'none';
    const { image, mask } = tinyPair(S);
    const shape = [B, 1, S, S, S];
    const n = S * S * S;
    const x1h = new Float32Array(B * n);
    const mh = new Float32Array(B * n);
    for (let b = 0; b < B; b++) {
      x1h.set(image.map((v) => v * 2 - 1), b * n);
      mh.set(mask, b * n);
    }
    const x1 = e.keep(e.tensor(x1h, shape));
    const m = e.keep(e.tensor(mh, shape));
    const mean = image.reduce((a, b) => a + b, 0) / n;
    const variance = image.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const one = [1, 1, S, S, S];
    const mk = e.keep(e.tensor(mask, one));
    // worst MSE over two fixed noise draws, relative to the image's variance (1 = as bad as a constant guess)
    const relMse = async (model: FlowUNet): Promise<number> => {
      let worst = 0;
      for (const seed of [100, 101]) {
        const out = await e.scopeAsync(async () => (await (await eulerSample(model, mk, [1], normal(e, one, 0, 1, seed), { steps: 10 })).read()) as Float32Array);
        worst = Math.max(worst, out.reduce((a, v, i) => a + (v - image[i]) ** 2, 0) / n);
      }
      return worst / variance;
    };
    const before = await relMse(net);
    const lr = 1e-2;
    const opt = new Adam(net.parameters(), { lr });
    const rng = new CounterRng(3);
    const t0 = performance.now();
    const losses: number[] = [];
    const steps = 80;
    for (let s = 0; s < steps; s++) {
      opt.lr = lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * s) / steps)));
      const l = e.scope(() => {
        const x0 = normal(e, shape, 0, 1, 11, s * B * n);
        const loss = flowLoss(net, x1, m, x0, logitNormalTimes(rng, B), new Array<number>(B).fill(1));
        backward(loss);
        opt.step();
        opt.zeroGrad();
        return loss;
      });
      if (s % 10 === 0 || s === steps - 1) losses.push(await l.item());
      l.dispose();
    }
    const after = await relMse(net);
    console.log(`overfit: ${steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s; loss ${losses.map((v) => v.toFixed(3)).join(' ')}; sample MSE / image variance ${before.toFixed(3)} untrained → ${after.toFixed(3)} trained`);
    expect(before).toBeGreaterThan(1);
    expect(after).toBeLessThan(0.1);
    for (const t of [x1, m, mk]) t.dispose();
    opt.dispose();
    net.dispose();
  }, 600_000);

  it('FlowTrainer: the loss falls over a short run', async () => {
    const e = await getEngine();
    const S = 4;
    const pairs = [0, 1].map((k) => {
      const { image, mask } = tinyPair(S);
      // two pairs of the same kind (bright tube, darker textured background), as one imaging class would give
      const img = k ? image.map((v, i) => (mask[i] ? 0.8 : 0.25 - 0.1 * Math.cos(0.37 * i))) : image;
      return { name: String(k), shape: [S, S, S] as [number, number, number], image: img, label: Uint8Array.from(mask) };
    });
    const net = freshFlowUNet(e, { ...SMALL, imageSize: S }, 5);
    const tr = FlowTrainer.start(e, net, PairSource.fromArrays('t', pairs), [0, 2], { size: S, batch: 4, lr: 1e-2, seed: 1, emaDecay: 0.995, emaEvery: 10, emaStart: 2000, pDrop: 0.1, augment: true });
    const losses: number[] = [];
    const steps = 24;
    for (let s = 0; s < steps; s++) losses.push((await tr.trainStep()).loss);
    const head = losses.slice(0, 6).reduce((a, b) => a + b) / 6;
    const tail = losses.slice(-6).reduce((a, b) => a + b) / 6;
    console.log(`trainer: mean loss first 6 ${head.toFixed(3)}, last 6 ${tail.toFixed(3)}; ${losses.map((v) => v.toFixed(2)).join(" ")}`);
    expect(tail).toBeLessThan(0.6 * head);
    expect(tr.step).toBe(steps);
    tr.dispose();
    net.dispose();
  }, 600_000);
});
