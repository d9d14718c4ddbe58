// The sampling variants of spec §5.4 against a float64 CPU re-run of the Euler loop from separately evaluated
// conditional / unconditional velocities: standard CFG with per-sample weights, cfg_bg (guidance only where
// mask == 0), cfg_rand (per-sample w ~ U(0, w_max) from the seed) and interpolate (class embedding
// w·E(y) + (1 − w)·E(y2)); the embedding mix itself against the CPU; per-sample draws as a pure function of
// (seed, index); and batching: a batch of 3 equals three batch-1 runs.
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/tape.js';
import type { Engine } from '../../src/engine.js';
import { drawSampleParams, eulerSample, parseCfgVariants, type ClassMix, type GuidanceRegion } from '../../src/flow/sample.js';
import { freshFlowUNet } from '../../src/flow/train-node.js';
import type { FlowUNet } from '../../src/models/flow-unet.js';
import { normal } from '../../src/tensor/math.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { SMALL } from './tiny.js';

// an odd, non-cubic volume (the one-level network takes any size)
const VOL = [3, 5, 4];
const n = VOL[0] * VOL[1] * VOL[2];
const C = 5;

let e: Engine;
let net: FlowUNet;

beforeAll(async () => {
  e = await getEngine();
  net = freshFlowUNet(e, { ...SMALL, modelChannels: 64, numClasses: C }, 21);
  // Width 64: with 32 channels GroupNorm(32) normalises every channel alone and removes the per-channel embedding
  // offset a ResBlock adds, so neither t nor the class would reach the output.
  // Upstream zero-initialises every residual branch's last conv, proj_out and the output conv; with those at zero
  // the class would not reach the output. Give them random weights so that v_cond and v_uncond really differ.
  let seed = 100;
  for (const [k, p] of net.stateDict()) {
    if (/(out_layers\.3|proj_out|^out\.2)\.weight$/.test(k)) e.rt.write(p.buffer, 0, Float32Array.from(randArray(p.size, seed++, -0.15, 0.15)));
  }
  net.eval();
});

function masks(B: number, seed: number): Float32Array {
  return Float32Array.from(randArray(B * n, seed, 0, 1), (v) => (v > 0.55 ? 1 : 0));
}

async function fwd(x: Float64Array, mask: Float32Array, B: number, t: number, y: number[], mix: ClassMix | null): Promise<Float32Array> {
  return e.scopeAsync(async () => {
    const xt = e.tensor(Float32Array.from(x), [B, 1, ...VOL]);
    const m = e.tensor(mask, [B, 1, ...VOL]);
    return (await noGrad(() => net.forward(xt, m, new Array<number>(B).fill(t), y, mix)).read()) as Float32Array;
  });
}

/** The Euler loop on the CPU: v from separate cond / uncond forwards, combined in float64 per variant. */
async function reference(x0: Float32Array, mask: Float32Array, y: number[], w: number[], steps: number, region: GuidanceRegion, mix: ClassMix | null): Promise<Float64Array> {
  const B = y.length;
  let x = Float64Array.from(x0);
  for (let i = 0; i < steps; i++) {
    const t = i / steps;
    const vc = await fwd(x, mask, B, t, y, mix);
    const guided = w.some((v) => v !== 0);
    const vu = guided ? await fwd(x, mask, B, t, new Array<number>(B).fill(-1), null) : vc;
    x = x.map((v, k) => {
      const b = Math.floor(k / n);
      const wk = region === 'background' && mask[k] !== 0 ? 0 : w[b];
      return v + ((1 + wk) * vc[k] - wk * vu[k]) / steps;
    });
  }
  return x.map((v) => (Math.min(1, Math.max(-1, v)) + 1) / 2);
}

async function sample(x0: Float32Array, mask: Float32Array, y: number[], w: number[], steps: number, region: GuidanceRegion, mix: ClassMix | null): Promise<Float32Array> {
  const B = y.length;
  return e.scopeAsync(async () => {
    const X = e.tensor(x0, [B, 1, ...VOL]);
    const M = e.tensor(mask, [B, 1, ...VOL]);
    return (await (await eulerSample(net, M, y, X, { steps, guidance: w, region, mix })).read()) as Float32Array;
  });
}

describe('sampling variants (spec §5.4)', () => {
  it('the conditional and unconditional velocities differ (so the CFG checks below are not vacuous)', async () => {
    const mask = masks(1, 1);
    const x = Float64Array.from(randArray(n, 2, -1, 1));
    const vc = await fwd(x, mask, 1, 0.3, [2], null);
    const vu = await fwd(x, mask, 1, 0.3, [-1], null);
    expect(relErr(vc, vu)).toBeGreaterThan(0.05);
  });

  it('class-embedding mix: emb = time + w·E(y) + (1 − w)·E(y2), against the CPU', async () => {
    const t = [0.2, 0.7, 0.5];
    const y = [1, 4, 0];
    const mix = { y2: [3, 0, -1], w: [0.25, 0.9, 0.6] };
    const E = (await net.label_emb!.weight.read()) as Float32Array;
    const D = net.label_emb!.embeddingDim;
    const [got, plain] = await e.scopeAsync(async () => {
      const a = (await noGrad(() => net.embed(t, y, mix)).read()) as Float32Array;
      const b = (await noGrad(() => net.embed(t, [-1, -1, -1])).read()) as Float32Array;
      return [a, b];
    });
    const row = (c: number, j: number): number => (c < 0 ? 0 : E[c * D + j]);
    const ref = Array.from(plain, (v, k) => {
      const b = Math.floor(k / D);
      const j = k % D;
      return v + mix.w[b] * row(y[b], j) + (1 - mix.w[b]) * row(mix.y2[b], j);
    });
    expect(relErr(got, ref)).toBeLessThan(1e-6);
    expect(() => noGrad(() => net.embed(t, y, { y2: [0, 1], w: [0.5, 0.5] }))).toThrow(/one second class and one weight per sample/);
    expect(() => noGrad(() => net.embed(t, y, { y2: [0, 1, C], w: [0.5, 0.5, 0.5] }))).toThrow(/class 5 is outside/);
  });

  it('standard CFG with per-sample weights, cfg_bg, and interpolate equal the CPU Euler loop', async () => {
    const B = 2;
    const steps = 3;
    const mask = masks(B, 3);
    const x0 = Float32Array.from(randArray(B * n, 4, -1.5, 1.5));
    const y = [2, 4];
    const cases: { name: string; w: number[]; region: GuidanceRegion; mix: ClassMix | null }[] = [
      { name: 'standard, w per sample', w: [2.5, 0.75], region: 'all', mix: null },
      { name: 'bg', w: [3, 1.5], region: 'background', mix: null },
      { name: 'interpolate', w: [0, 0], region: 'all', mix: { y2: [0, 1], w: [0.3, 0.8] } },
      { name: 'interpolate + CFG', w: [1, 2], region: 'all', mix: { y2: [3, 0], w: [0.6, 0.1] } },
    ];
    const outs: Float32Array[] = [];
    for (const c of cases) {
      const ref = await reference(x0, mask, y, c.w, steps, c.region, c.mix);
      const got = await sample(x0, mask, y, c.w, steps, c.region, c.mix);
      expect(relErr(got, ref), c.name).toBeLessThan(1e-5);
      outs.push(got);
    }
    // the variants really change the result
    expect(relErr(outs[0], outs[1])).toBeGreaterThan(1e-3);
    expect(relErr(outs[2], outs[3])).toBeGreaterThan(1e-3);
    // bg after one Euler step: inside the mask the update is v_cond's (as plain conditional sampling), outside it
    // is the guided one
    const plain = await sample(x0, mask, y, [0, 0], 1, 'all', null);
    const bgOne = await sample(x0, mask, y, [3, 1.5], 1, 'background', null);
    const inside = (a: Float32Array) => Array.from(a).filter((_, k) => mask[k] !== 0);
    const outside = (a: Float32Array) => Array.from(a).filter((_, k) => mask[k] === 0);
    expect(relErr(inside(bgOne), inside(plain))).toBeLessThan(1e-6);
    expect(relErr(outside(bgOne), outside(plain))).toBeGreaterThan(1e-2);
  });

  it('cfg_rand and interpolate draws are a pure function of (seed, index)', async () => {
    const variants = parseCfgVariants('rand');
    const o = { variants, guidance: 5, y: 2, numClasses: C };
    const ws = Array.from({ length: 400 }, (_, i) => drawSampleParams(9, i, o).guidance);
    expect(ws.every((w) => w >= 0 && w < 5)).toBe(true);
    const mean = ws.reduce((a, b) => a + b) / ws.length;
    expect(Math.abs(mean - 2.5)).toBeLessThan(0.25);
    expect(drawSampleParams(9, 17, o)).toEqual(drawSampleParams(9, 17, o));
    expect(drawSampleParams(10, 17, o).guidance).not.toBe(drawSampleParams(9, 17, o).guidance);
    const io = { variants: parseCfgVariants('interpolate'), guidance: 0, y: 2, numClasses: C };
    const d = Array.from({ length: 500 }, (_, i) => drawSampleParams(3, i, io));
    expect(d.every((r) => r.guidance === 0 && r.y2 !== 2 && r.y2! >= 0 && r.y2! < C && r.mixWeight! >= 0 && r.mixWeight! < 1)).toBe(true);
    const hist = [0, 1, 3, 4].map((c) => d.filter((r) => r.y2 === c).length);
    expect(Math.min(...hist)).toBeGreaterThan(90); // about 125 each: uniform over the other classes
    expect(() => drawSampleParams(3, 0, { ...io, y: -1 })).toThrow(/interpolate needs a class/);
    expect([...parseCfgVariants('bg,rand')]).toEqual(['bg', 'rand']);
    expect(() => parseCfgVariants('bg,wild')).toThrow(/unknown variant "wild"/);
    expect(() => parseCfgVariants('standard,bg')).toThrow(/does not combine/);
    // a rand sample equals the sampler run with its drawn weight, and is the same for the same seed
    const mask = masks(1, 5);
    const x0 = Float32Array.from(randArray(n, 6, -1.5, 1.5));
    const w = drawSampleParams(9, 3, o).guidance;
    const a = await sample(x0, mask, [2], [w], 2, 'all', null);
    const b = await sample(x0, mask, [2], [drawSampleParams(9, 3, o).guidance], 2, 'all', null);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(relErr(a, await reference(x0, mask, [2], [w], 2, 'all', null))).toBeLessThan(1e-5);
  });

  it('a batch of 3 equals three batch-1 runs (noise, mask, class, weight and mix per sample)', async () => {
    const B = 3;
    const steps = 3;
    const mask = masks(B, 7);
    const x0 = (await normal(e, [B, 1, ...VOL], 0, 1, 77).read()) as Float32Array;
    const y = [0, 3, 4];
    for (const c of [
      { w: [2, 0.5, 1.25], region: 'background' as GuidanceRegion, mix: null },
      { w: [0, 0, 0], region: 'all' as GuidanceRegion, mix: { y2: [2, 1, 0], w: [0.1, 0.5, 0.95] } },
    ]) {
      const batched = await sample(x0, mask, y, c.w, steps, c.region, c.mix);
      for (let b = 0; b < B; b++) {
        const sl = (a: Float32Array) => a.slice(b * n, (b + 1) * n);
        const mix = c.mix ? { y2: [c.mix.y2[b]], w: [c.mix.w[b]] } : null;
        const single = await sample(sl(x0), sl(mask), [y[b]], [c.w[b]], steps, c.region, mix);
        expect(relErr(sl(batched), single), `sample ${b}`).toBeLessThan(1e-5);
      }
    }
  });
});
