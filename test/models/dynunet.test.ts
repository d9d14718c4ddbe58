// The whole segmenter against PyTorch: dynunet_small.pt (a real torch.save file with the released checkpoint's key
// structure, filters 4-8-8-16-16-16) and dynunet_small.npz (logits, Dice+BCE loss, every gradient, every parameter
// after one AdamW step), computed by PyTorch in float64.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/tape.js';
import { loadWeights, withAliases } from '../../src/io/checkpoint.js';
import { readNpzFile } from '../../src/io/files.js';
import { npyToFloat32 } from '../../src/io/npy.js';
import { DynUNet, VESSELFM_FILTERS } from '../../src/models/dynunet.js';
import { AdamW } from '../../src/nn/optim/optimizer.js';
import { diceBceLoss } from '../../src/ops/loss.js';
import { getEngine, relErr } from '../helpers.js';

const shared = resolve(process.cwd(), '..', 'shared', 'fixtures', 'torch');

describe('DynUNet', () => {
  it('has the released checkpoint’s 180 keys and shapes at vesselFM size (31,418,977 parameters)', async () => {
    const e = await getEngine();
    const expected = JSON.parse(readFileSync(resolve(shared, 'dynunet_full_keys.json'), 'utf8')) as {
      params_unique: number;
      keys: [string, number[]][];
    };
    const entries = expected.keys;
    expect(entries).toHaveLength(180);
    const net = new DynUNet(e, { filters: [...VESSELFM_FILTERS] });
    try {
      const sd = net.stateDict();
      expect([...sd.keys()].sort()).toEqual(entries.map(([k]) => k).sort());
      for (const [k, shape] of entries) expect([k, [...sd.get(k)!.shape]]).toEqual([k, shape]);
      expect(net.numParameters()).toBe(expected.params_unique);
      expect(expected.params_unique).toBe(31_418_977);
      expect(net.namedParameters()).toHaveLength(91);
    } finally {
      net.dispose();
    }
  });

  it('reproduces PyTorch: logits and loss (< 1e-4), all 91 gradients (whole vector < 5e-4) and one AdamW step (< 2e-3)', async () => {
    const e = await getEngine();
    const w = loadWeights(resolve(shared, 'dynunet_small.pt'));
    const sd = withAliases(w);
    expect(sd.size).toBe(180);
    const net = DynUNet.fromStateDict(e, sd);
    expect(net.config.filters).toEqual([4, 8, 8, 16, 16, 16]);
    net.loadStateDict(sd);
    const fx = readNpzFile(resolve(shared, 'dynunet_small.npz'));
    const arr = (k: string) => npyToFloat32(fx.get(k)!);
    const xArr = fx.get('x')!;
    const x = e.tensor(arr('x'), xArr.shape);
    const target = e.tensor(arr('target'), fx.get('target')!.shape);

    const t0 = performance.now();
    const logits = net.forward(x);
    const logitErr = relErr(await logits.read(), arr('logits'));
    console.log(`logits rel. error ${logitErr.toExponential(2)}`);
    expect(logitErr).toBeLessThan(1e-4);
    const loss = diceBceLoss(logits, target);
    expect(relErr([await loss.item()], [arr('loss')[0]])).toBeLessThan(1e-4);
    backward(loss);
    await e.sync();
    console.log(`DynUNet small, 2×64³: forward+loss+backward ${(performance.now() - t0).toFixed(0)} ms`);

    const names = (fx.get('param_names')!.data as string[]).map(String);
    const params = new Map(net.namedParameters());
    expect(names.length).toBe(91);
    const grads = new Map<string, Float32Array>();
    for (const n of names) {
      expect(params.get(n), n).toBeDefined();
      grads.set(n, (await params.get(n)!.grad!.read()) as Float32Array);
    }

    // Every gradient tensor against PyTorch. The output block and the last block's second conv/norm match to ~1e-7;
    // deeper tensors differ by up to ~3e-3 (input_block.conv3, a one-input 1×1×1 conv before an instance norm whose
    // true gradient is nearly zero, ~1e-2). That gap is not an error of the kernels: LeakyReLU's kink makes the
    // gradient jump when a pre-activation changes sign, and an f32 forward always has a few of the 2×64³ voxels per
    // channel within ~1e-7 of zero whose sign PyTorch's float64 forward decides differently — each flip moves the
    // sums by 0.99 × that voxel's incoming gradient. dynunet-kinks.test.ts proves it on the last decoder block (our
    // backward equals float64 to 1e-5 from the same inputs; PyTorch differs by exactly one flip). The bounds below
    // hold the measured level: the whole gradient vector < 5e-4, every tensor < 2e-2.
    const report: [string, number][] = [];
    let num = 0;
    let den = 0;
    for (const n of names) {
      const g = grads.get(n)!;
      const ref = arr(`grad.${n}`);
      report.push([n, relErr(g, ref)]);
      for (let i = 0; i < g.length; i++) {
        num += (g[i] - ref[i]) ** 2;
        den += ref[i] ** 2;
      }
    }
    report.sort((a, b) => b[1] - a[1]);
    const global = Math.sqrt(num / den);
    console.log(`gradients: whole vector ${global.toExponential(2)}; worst ${report.slice(0, 3).map(([n, r]) => `${n} ${r.toExponential(1)}`).join(', ')}`);
    expect(global).toBeLessThan(5e-4);
    expect(report[0][1], report[0][0]).toBeLessThan(2e-2);
    for (const n of ['output_block.conv.conv.weight', 'output_block.conv.conv.bias', 'upsamples.4.conv_block.norm2.weight', 'upsamples.4.conv_block.norm2.bias', 'upsamples.4.conv_block.conv2.conv.weight']) {
      expect(report.find(([k]) => k === n)![1], n).toBeLessThan(1e-5);
    }

    const opt = new AdamW(net.parameters(), { lr: 1e-3, weightDecay: 0.1 });
    opt.step();
    let worstStep = 0;
    let worstStepName = '';
    for (const n of names) {
      const r = relErr(await params.get(n)!.read(), arr(`after_step.${n}`));
      if (r > worstStep) [worstStep, worstStepName] = [r, n];
    }
    console.log(`after one AdamW step: worst ${worstStepName} ${worstStep.toExponential(2)}`);
    // AdamW's first step is ≈ lr·sign(g): the few gradient elements that the kink flips above move by 2·lr, so the
    // step is bounded at 2e-3 (measured 1.1e-3), not at the 1e-4 an f32 forward cannot give here.
    expect(worstStep, `worst parameter after the step: ${worstStepName}`).toBeLessThan(2e-3);
    opt.dispose();
    for (const t of [x, target, logits, loss]) t.dispose();
    net.dispose();
  }, 600_000);

  it('rejects inputs it cannot take with a clear message', async () => {
    const e = await getEngine();
    const net = new DynUNet(e, { filters: [2, 2, 2] });
    const bad = e.zeros([1, 1, 6, 8, 8]);
    expect(() => net.forward(bad)).toThrow(/multiple of 4/);
    const bad2 = e.zeros([1, 2, 8, 8, 8]);
    expect(() => net.forward(bad2)).toThrow(/expects \[N, 1, D, H, W\], got \[1, 2, 8, 8, 8\]/);
    bad.dispose();
    bad2.dispose();
    net.dispose();
  });
});
