// The flow network against PyTorch: flow_c32_m12_s32.pt (upstream's own network code, image 32, width 32, mult
// (1, 2), attention at 16³ and in the middle block, 24 classes with CFG) and .npz (velocity for a conditional and an
// unconditional sample, the rectified-flow MSE, every parameter's gradient).
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/tape.js';
import { loadWeights } from '../../src/io/checkpoint.js';
import { readNpzFile } from '../../src/io/files.js';
import { npyToFloat32 } from '../../src/io/npy.js';
import { FlowUNet, VESSELFM_FLOW, flowStateDict, timestepEmbedding } from '../../src/models/flow-unet.js';
import { mseLoss } from '../../src/ops/loss.js';
import { sub } from '../../src/tensor/math.js';
import { getEngine, relErr } from '../helpers.js';

const shared = resolve(process.cwd(), '..', 'shared', 'fixtures', 'torch');

describe('FlowUNet', () => {
  it('has upstream’s 247 keys and 40,230,849 parameters at vesselFM size', async () => {
    const e = await getEngine();
    const net = new FlowUNet(e, VESSELFM_FLOW);
    try {
      const sd = net.stateDict();
      expect(sd.size).toBe(247);
      expect(net.numParameters()).toBe(40_230_849);
      const shape = (k: string) => [...sd.get(k)!.shape];
      expect(shape('input_blocks.7.1.qkv.weight')).toEqual([576, 192, 1]);
      expect(shape('output_blocks.1.1.conv.weight')).toEqual([256, 256, 3, 3, 3]);
      expect(shape('output_blocks.3.2.conv.weight')).toEqual([192, 192, 3, 3, 3]);
      expect(shape('output_blocks.0.0.skip_connection.weight')).toEqual([256, 512, 1, 1, 1]);
      expect(shape('middle_block.1.qkv.weight')).toEqual([768, 256, 1]);
      expect(shape('out.2.weight')).toEqual([1, 64, 3, 3, 3]);
      expect(sd.has('middle_block.0.skip_connection.weight')).toBe(false);
      // the shapes read back give the same network
      const back = FlowUNet.fromStateDict(e, sd);
      expect(back.config.channelMult).toEqual([1, 1, 2, 3, 4]);
      expect(back.config.attentionResolutions).toEqual([16]);
      expect(back.config.numClasses).toBe(24);
      back.dispose();
    } finally {
      net.dispose();
    }
  });

  it('sinusoid: cos first, max period 1000, t not scaled', () => {
    const s = timestepEmbedding([0.5], 8, 1000);
    const f = [0, 1, 2, 3].map((i) => Math.exp((-Math.log(1000) * i) / 4));
    expect(relErr(s, [...f.map((v) => Math.cos(0.5 * v)), ...f.map((v) => Math.sin(0.5 * v))])).toBeLessThan(1e-7);
  });

  it('reproduces upstream PyTorch: velocity, loss and every gradient (< 1e-4)', async () => {
    const e = await getEngine();
    const w = loadWeights(resolve(shared, 'flow_c32_m12_s32.pt'));
    const sd = flowStateDict(w.tensors);
    const net = FlowUNet.fromStateDict(e, sd, { imageSize: 32 });
    expect(net.config).toMatchObject({ modelChannels: 32, channelMult: [1, 2], attentionResolutions: [16], numClasses: 24, inChannels: 2, outChannels: 1 });
    net.loadStateDict(sd);
    // keys under `model.` (upstream's saved checkpoints) resolve to the same dict
    const prefixed = new Map([...w.tensors].map(([k, v]) => [`model.${k}`, v]));
    expect([...flowStateDict(prefixed).keys()]).toEqual([...sd.keys()]);

    const fx = readNpzFile(resolve(shared, 'flow_c32_m12_s32.npz'));
    const arr = (k: string) => npyToFloat32(fx.get(k)!);
    const shape = [...fx.get('x_t')!.shape];
    const xt = e.tensor(arr('x_t'), shape);
    const mask = e.tensor(arr('mask'), shape);
    const target = sub(e.tensor(arr('x1'), shape), e.tensor(arr('x0'), shape));
    const t = Array.from(arr('t'));
    const y = Array.from(fx.get('y')!.data as ArrayLike<number | bigint>, Number);
    expect(y).toEqual([5, -1]);

    const t0 = performance.now();
    const v = net.forward(xt, mask, t, y);
    const vErr = relErr(await v.read(), arr('v'));
    console.log(`velocity rel. error ${vErr.toExponential(2)}`);
    expect(vErr).toBeLessThan(1e-4);
    const loss = mseLoss(v, target);
    const lossErr = relErr([await loss.item()], [arr('loss')[0]]);
    expect(lossErr).toBeLessThan(1e-4);
    backward(loss);
    await e.sync();
    console.log(`flow 2×32³: forward+loss+backward ${(performance.now() - t0).toFixed(0)} ms`);

    const names = (fx.get('param_names')!.data as string[]).map(String);
    const params = new Map(net.namedParameters());
    expect(names.length).toBe(params.size);
    const report: [string, number][] = [];
    for (const n of names) {
      const p = params.get(n);
      expect(p, n).toBeDefined();
      report.push([n, relErr((await p!.grad!.read()) as Float32Array, arr(`grad.${n}`))]);
    }
    // In a ResBlock whose width equals the 32 GroupNorm groups (one channel per group), out_layers.0 normalises
    // every channel on its own, so adding a per-channel constant to h — the emb_layers projection and the
    // in_layers conv bias — changes nothing: their true gradient is exactly 0 and PyTorch's values (~1e-8, against
    // ~1e-2 for the same tensors in 64-channel blocks) are rounding noise. Those are checked in absolute terms.
    // (Measured: every other gradient within 1.2e-5 of PyTorch.)
    const invariant = (k: string) => {
      const m = /^(.*)\.(emb_layers\.1\.(weight|bias)|in_layers\.2\.bias)$/.exec(k);
      if (m && params.get(`${m[1]}.out_layers.0.weight`)!.size === 32) return true;
      // likewise the biases that shift the last output block's channels, which go straight into out.0 = GN(32, 32)
      const last = `output_blocks.${net.output_blocks.length - 1}.0`;
      return net.config.modelChannels * net.config.channelMult[0] === 32 && (k === `${last}.skip_connection.bias` || k === `${last}.out_layers.3.bias`);
    };
    const flat: [string, number][] = [];
    for (const [n, r] of report) {
      if (!invariant(n)) {
        flat.push([n, r]);
        continue;
      }
      const g = (await params.get(n)!.grad!.read()) as Float32Array;
      const ref = arr(`grad.${n}`);
      const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
      expect(norm(ref), n).toBeLessThan(1e-6);
      expect(norm(g), n).toBeLessThan(1e-6);
    }
    expect(report.length - flat.length).toBe(11);
    flat.sort((a, b) => b[1] - a[1]);
    console.log(`gradients: worst ${flat.slice(0, 5).map(([n, r]) => `${n} ${r.toExponential(2)}`).join(', ')}`);
    for (const [n, r] of flat) expect(r, n).toBeLessThan(1e-4);
    net.dispose();
  }, 1_200_000);
});
