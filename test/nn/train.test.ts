// A small segmentation network trained for a few steps with everything in this layer: modules, conv/norm/activation
// ops, Dice+BCE, AdamW with the vesselFM schedule, clipping, EMA — the loss must fall and nothing may leak.
import { describe, expect, it } from 'vitest';
import { backward, assertFinite } from '../../src/autograd/index.js';
import { Conv3d, InstanceNorm3d, LeakyReLU, Module, manualSeed } from '../../src/nn/index.js';
import { AdamW, EMA, VesselfmSchedule, applySchedule, clipGradNorm } from '../../src/nn/optim/index.js';
import { diceBceLoss } from '../../src/ops/loss.js';
import { add } from '../../src/ops/arith.js';
import type { Engine } from '../../src/engine.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine } from '../helpers.js';

class TinyNet extends Module {
  conv1: Conv3d;
  norm1: InstanceNorm3d;
  conv2: Conv3d;
  norm2: InstanceNorm3d;
  out: Conv3d;
  act = new LeakyReLU(0.01);
  constructor(e: Engine) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv3d(e, 1, 4, 3, { padding: 1, bias: false }));
    this.norm1 = this.registerModule('norm1', new InstanceNorm3d(e, 4));
    this.conv2 = this.registerModule('conv2', new Conv3d(e, 4, 4, 3, { padding: 1, bias: false }));
    this.norm2 = this.registerModule('norm2', new InstanceNorm3d(e, 4));
    this.out = this.registerModule('out', new Conv3d(e, 4, 1, 1));
  }
  forward(x: Tensor): Tensor {
    const h = this.act.forward(this.norm1.forward(this.conv1.forward(x)));
    const r = this.norm2.forward(this.conv2.forward(h));
    return this.out.forward(this.act.forward(add(r, h)));
  }
}

describe('training a small network', () => {
  it('reduces Dice+BCE with AdamW, keeps memory flat across steps', async () => {
    const e = await getEngine();
    manualSeed(e, 404);
    const net = new TinyNet(e);
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'conv1.weight',
      'norm1.weight',
      'norm1.bias',
      'conv2.weight',
      'norm2.weight',
      'norm2.bias',
      'out.weight',
      'out.bias',
    ]);
    const S = 8;
    // a bright tube along one axis on a noisy background; the mask is the tube
    const img = new Float32Array(2 * S * S * S);
    const mask = new Float32Array(2 * S * S * S);
    for (let n = 0; n < 2; n++) {
      for (let z = 0; z < S; z++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
        const i = ((n * S + z) * S + y) * S + x;
        const inside = (y - 3 - n) ** 2 + (x - 4) ** 2 <= 2;
        mask[i] = inside ? 1 : 0;
        img[i] = (inside ? 0.8 : 0.2) + 0.1 * Math.sin(i * 1.7);
      }
    }
    const x = e.tensor(img, [2, 1, S, S, S]);
    const t = e.tensor(mask, [2, 1, S, S, S]);
    const opt = new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0.1 });
    const sched = new VesselfmSchedule({ base: 3e-2, warmupIters: 1, every: 1, tMax: 400 });
    const ema = new EMA(net.parameters(), 0.9);
    const losses: number[] = [];
    let live = 0;
    for (let step = 0; step < 25; step++) {
      applySchedule(opt, sched);
      const loss = e.scope(() => {
        const l = diceBceLoss(net.forward(x), t);
        backward(l);
        clipGradNorm(net.parameters(), 5).dispose();
        opt.step();
        ema.update();
        opt.zeroGrad();
        return l;
      });
      losses.push(await assertFinite(loss, step, 'dice_bce'));
      loss.dispose();
      if (step === 1) live = e.liveTensors;
      if (step > 1) expect(e.liveTensors).toBe(live);
    }
    expect(losses[losses.length - 1]).toBeLessThan(0.7 * losses[0]);
    ema.dispose();
    opt.dispose();
    net.dispose();
  });
});
