import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { AdamW, Adam, SGD, VesselfmSchedule, ConstantSchedule, applySchedule, EMA, clipGradNorm, LossScaler } from '../../src/nn/optim/index.js';
import { Parameter } from '../../src/nn/parameter.js';
import { groupNorm } from '../../src/ops/norm.js';
import { silu } from '../../src/ops/activation.js';
import { mseLoss } from '../../src/ops/loss.js';
import type { Engine } from '../../src/engine.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { fixture, fixtureScalar } from '../ops/fixtures.js';

function param(e: Engine, data: ArrayLike<number>): Parameter {
  return Parameter.from(e.tensor(data, [data.length]));
}

function setGrad(p: Parameter, g: ArrayLike<number>): void {
  p.grad?.dispose();
  p.grad = p.engine.keep(p.engine.tensor(g, [g.length]));
}

describe('optimizers', () => {
  it('AdamW matches PyTorch over three steps', async () => {
    const e = await getEngine();
    const p0 = fixture('adamw_3steps.p0').data;
    const g = fixture('adamw_3steps.g');
    const p = param(e, p0);
    const opt = new AdamW([p], {
      lr: fixtureScalar('adamw_3steps.lr'),
      betas: [fixtureScalar('adamw_3steps.beta1'), fixtureScalar('adamw_3steps.beta2')],
      eps: fixtureScalar('adamw_3steps.eps'),
      weightDecay: fixtureScalar('adamw_3steps.weight_decay'),
    });
    const n = p0.length;
    for (let s = 0; s < 3; s++) {
      setGrad(p, g.data.subarray(s * n, (s + 1) * n));
      opt.step();
    }
    // compare the update p3 − p0 (the parameters themselves barely move)
    const p3 = await p.read();
    const ref = fixture('adamw_3steps.p3').data;
    expect(relErr(Array.from(p3, (v, i) => v - p0[i]), Array.from(ref, (v, i) => v - p0[i]))).toBeLessThan(1e-4);
    expect(relErr(p3, ref)).toBeLessThan(1e-6);
    opt.dispose();
    p.dispose();
  });

  it('Adam (L2 decay) and SGD (momentum, dampening, Nesterov, decay) match hand-computed references', async () => {
    const e = await getEngine();
    const n = 37;
    const w0 = randArray(n, 1);
    const grads = [randArray(n, 2), randArray(n, 3), randArray(n, 4)];
    // Adam with L2 weight decay, float64 reference of torch.optim.Adam
    {
      const p = param(e, w0);
      const opt = new Adam([p], { lr: 0.01, weightDecay: 0.05, betas: [0.8, 0.99], eps: 1e-6 });
      const w = Float64Array.from(w0);
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      grads.forEach((g, t) => {
        setGrad(p, g);
        opt.step();
        for (let i = 0; i < n; i++) {
          const gi = g[i] + 0.05 * w[i];
          m[i] = 0.8 * m[i] + 0.2 * gi;
          v[i] = 0.99 * v[i] + 0.01 * gi * gi;
          const mh = m[i] / (1 - 0.8 ** (t + 1));
          const den = Math.sqrt(v[i]) / Math.sqrt(1 - 0.99 ** (t + 1)) + 1e-6;
          w[i] -= (0.01 * mh * (1 - 0.8 ** (t + 1))) / (1 - 0.8 ** (t + 1)) / den;
        }
      });
      const got = await p.read();
      expect(relErr(Array.from(got, (x, i) => x - w0[i]), Array.from(w, (x, i) => x - w0[i]))).toBeLessThan(1e-4);
      opt.dispose();
      p.dispose();
    }
    for (const o of [
      { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false },
      { lr: 0.05, momentum: 0.8, dampening: 0, weightDecay: 0, nesterov: true },
      { lr: 0.2, momentum: 0.5, dampening: 0.3, weightDecay: 0.1, nesterov: false },
      { lr: 0.3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    ]) {
      const p = param(e, w0);
      const opt = new SGD([p], o);
      const w = Float64Array.from(w0);
      const buf = new Float64Array(n);
      grads.forEach((g, t) => {
        setGrad(p, g);
        opt.step();
        for (let i = 0; i < n; i++) {
          let d = g[i] + o.weightDecay * w[i];
          if (o.momentum) {
            buf[i] = t === 0 ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
            d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
          }
          w[i] -= o.lr * d;
        }
      });
      const got = await p.read();
      expect(relErr(Array.from(got, (x, i) => x - w0[i]), Array.from(w, (x, i) => x - w0[i]))).toBeLessThan(1e-5);
      opt.dispose();
      p.dispose();
    }
  });

  it('optimizer state round-trips through stateDict (resume gives the same next step)', async () => {
    const e = await getEngine();
    const w0 = randArray(50, 21);
    const grads = [randArray(50, 22), randArray(50, 23), randArray(50, 24)];
    for (const make of [
      (p: Parameter) => new AdamW([p], { lr: 1e-2, weightDecay: 0.1 }),
      (p: Parameter) => new SGD([p], { lr: 0.1, momentum: 0.9 }),
    ]) {
      const a = param(e, w0);
      const oa = make(a);
      setGrad(a, grads[0]);
      oa.step();
      setGrad(a, grads[1]);
      oa.step();
      const sd = oa.stateDict();
      expect([...sd.tensors.keys()].sort()).toEqual(oa instanceof SGD ? ['0.momentum_buffer'] : ['0.exp_avg', '0.exp_avg_sq']);
      const b = param(e, await a.read());
      const ob = make(b);
      ob.loadStateDict(sd);
      expect(ob.stepCount).toBe(2);
      setGrad(a, grads[2]);
      setGrad(b, grads[2]);
      oa.step();
      ob.step();
      expect(Array.from(await b.read())).toEqual(Array.from(await a.read()));
      expect(() => ob.loadStateDict({ step: 1, tensors: new Map([['3.exp_avg', a]]) })).toThrow(/key 3.exp_avg names no parameter/);
      oa.dispose();
      ob.dispose();
      a.dispose();
      b.dispose();
    }
  });

  it('vesselFM schedule: warm-up times cosine, stepped every 10 steps', () => {
    const s = new VesselfmSchedule();
    expect(s.lr(0)).toBeCloseTo(1e-6, 15);
    expect(s.lr(9)).toBe(s.lr(0));
    expect(s.lr(10)).toBeCloseTo(1e-4 * (0.01 + 0.99 / 150) * 0.5 * (1 + Math.cos(Math.PI / 5000)), 15);
    expect(s.lr(1500)).toBeCloseTo(1e-4 * 0.5 * (1 + Math.cos((Math.PI * 150) / 5000)), 15);
    expect(s.lr(46000)).toBeCloseTo(1e-4 * 0.5 * (1 + Math.cos((Math.PI * 4600) / 5000)), 15);
    expect(s.lr(46000)).toBeGreaterThan(1.5e-6);
    expect(s.lr(46000)).toBeLessThan(1.6e-6);
    expect(new ConstantSchedule(3e-4).lr(12345)).toBe(3e-4);
  });

  it('applies the schedule to the optimizer by step count', async () => {
    const e = await getEngine();
    const p = param(e, [1, 2]);
    const opt = new AdamW([p], { lr: 1 });
    const s = new VesselfmSchedule();
    expect(applySchedule(opt, s)).toBeCloseTo(1e-6, 15);
    opt.stepCount = 1500;
    expect(applySchedule(opt, s)).toBeCloseTo(s.lr(1500), 15);
    p.dispose();
  });

  it('EMA of weights and global-norm clipping stay on the GPU', async () => {
    const e = await getEngine();
    const a = param(e, randArray(300, 5));
    const b = param(e, randArray(7000, 6));
    const a0 = Float64Array.from(await a.read());
    const ema = new EMA([a, b], 0.9);
    e.rt.write(a.buffer, 0, new Float32Array(300).fill(1));
    ema.update();
    const got = await ema.shadow[0].read();
    expect(relErr(got, Array.from(a0, (v) => 0.9 * v + 0.1))).toBeLessThan(1e-6);
    ema.dispose();

    const ga = randArray(300, 7, -3, 3);
    const gb = randArray(7000, 8, -3, 3);
    setGrad(a, ga);
    setGrad(b, gb);
    const total = Math.sqrt([...ga, ...gb].reduce((s, v) => s + v * v, 0));
    const before = e.rt.stats.readbacks;
    const norm = clipGradNorm([a, b], 5);
    expect(e.rt.stats.readbacks).toBe(before);
    expect(relErr([await norm.item()], [total])).toBeLessThan(1e-5);
    const coef = 5 / (total + 1e-6);
    expect(relErr(await b.grad!.read(), Array.from(gb, (v) => v * coef))).toBeLessThan(1e-5);
    // under the limit nothing changes
    const n2 = clipGradNorm([a, b], 1e9);
    expect(relErr(await a.grad!.read(), Array.from(ga, (v) => v * coef))).toBeLessThan(1e-5);
    n2.dispose();
    a.dispose();
    b.dispose();
  });

  it('mixed precision: f16 activations, f32 master weights; loss scaling skips the step on overflow', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const C = 4;
    const w = Parameter.from(e.tensor(randArray(C, 9, 0.5, 1.5), [C]));
    const b = Parameter.from(e.tensor(randArray(C, 10), [C]));
    const x = e.tensor(randArray(2 * C * 30, 11, -2, 2), [2, C, 30], 'f16');
    const target = e.tensor(randArray(2 * C * 30, 12), [2, C, 30], 'f16');
    const opt = new SGD([w, b], { lr: 0.1 });
    const step = (scaler: LossScaler, clipNorm?: number) =>
      e.scopeAsync(async () => {
        const y = silu(groupNorm(x, 2, w, b));
        expect(y.dtype).toBe('f16');
        const loss = mseLoss(y, target);
        scaler.backward(loss);
        expect(w.grad!.dtype).toBe('f32');
        const r = await scaler.step(opt, loss, { clipNorm });
        opt.zeroGrad();
        return r;
      });
    // a sane scale: the step is taken; the gradients match an f32 run
    const w0 = Float32Array.from(await w.read());
    const ok = await step(new LossScaler({ initScale: 1024, growthInterval: 1 }), 1.0);
    expect(ok.skipped).toBe(false);
    expect(Number.isFinite(ok.loss)).toBe(true);
    expect(ok.scale).toBe(2048);
    expect(Array.from(await w.read())).not.toEqual(Array.from(w0));
    // a scale that overflows f16 (max 65504) in the backward: the step is skipped and the scale halves
    const w1 = Float32Array.from(await w.read());
    const before = e.rt.stats.readbacks;
    const scaler = new LossScaler({ initScale: 2 ** 40 });
    const bad = await step(scaler);
    expect(e.rt.stats.readbacks - before).toBe(1);
    expect(bad.skipped).toBe(true);
    expect(bad.scale).toBe(2 ** 39);
    expect(Array.from(await w.read())).toEqual(Array.from(w1));
    expect(opt.stepCount).toBe(1);
    // the schedule survives a checkpoint: scale and good-step count go out and come back (PyTorch's growth tracker)
    const run = new LossScaler({ initScale: 256, growthInterval: 3 });
    for (let i = 0; i < 2; i++) expect((await step(run)).scale).toBe(256);
    expect(run.stateDict()).toEqual({ loss_scale: 256, loss_scale_good_steps: 2 });
    const resumed = new LossScaler({ growthInterval: 3 });
    resumed.loadStateDict(JSON.parse(JSON.stringify(run.stateDict())));
    expect([resumed.scale, resumed.goodSteps]).toEqual([256, 2]);
    expect((await step(resumed)).scale).toBe(512);
    expect((await step(run)).scale).toBe(512);
    // an older sidecar without the count: the scale comes back, the count starts at 0
    const old = new LossScaler({ growthInterval: 3 });
    old.loadStateDict({ loss_scale: 128 });
    expect([old.scale, old.goodSteps]).toEqual([128, 0]);
    w.dispose();
    b.dispose();
  });
});
