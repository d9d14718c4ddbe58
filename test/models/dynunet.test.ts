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

  it('reproduces PyTorch: logits and loss (< 1e-4); all 91 gradients and one AdamW step as close to the float64 reference as PyTorch float32 gets', async () => {
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

    // Every gradient tensor against PyTorch. The reference is float64; an f32 forward cannot meet 1e-4 on every
    // gradient here: LeakyReLU's kink makes the gradient jump when a pre-activation changes sign, and among 2×64³
    // voxels per channel some lie within f32 round-off of zero, so any f32 computation decides a few of them
    // differently from float64 (dynunet-kinks.test.ts proves one such flip on the last decoder block). PyTorch itself
    // shows it: scripts/torch/f32_baseline.py runs the fixture's own network in PyTorch float32 from the same weights
    // and input, and its distance from the float64 reference (test/fixtures/torch/dynunet_small_f32_baseline.json) is
    // 2.7e-4 on the whole gradient vector, 3.6e-2 on the worst tensor, 85 of 91 tensors over 1e-4, 1.7e-3 after the
    // AdamW step; PyTorch float64 from the same stored input is within 4e-7. The engine must be at least as close as
    // PyTorch float32 (a 1.5× margin on the whole vector and the step for other adapters' summation orders).
    const torchF32 = (JSON.parse(readFileSync(resolve(process.cwd(), 'test/fixtures/torch/dynunet_small_f32_baseline.json'), 'utf8')) as {
      float32: { gradient_vector: number; worst_gradient: number; worst_step: number; 'gradients_over_1e-4': number };
      float64: { gradient_vector: number };
    });
    expect(torchF32.float64.gradient_vector).toBeLessThan(1e-6);
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
    const over = report.filter(([, r]) => r > 1e-4).length;
    console.log(
      `gradients: whole vector ${global.toExponential(2)} (PyTorch f32 ${torchF32.float32.gradient_vector.toExponential(2)}); ` +
        `${over}/91 tensors over 1e-4 (PyTorch f32 ${torchF32.float32['gradients_over_1e-4']}); worst ${report.slice(0, 3).map(([n, r]) => `${n} ${r.toExponential(1)}`).join(', ')} (PyTorch f32 worst ${torchF32.float32.worst_gradient.toExponential(1)})`,
    );
    expect(global).toBeLessThan(1.5 * torchF32.float32.gradient_vector);
    expect(report[0][1], report[0][0]).toBeLessThan(torchF32.float32.worst_gradient);
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
    console.log(`after one AdamW step: worst ${worstStepName} ${worstStep.toExponential(2)} (PyTorch f32 ${torchF32.float32.worst_step.toExponential(2)})`);
    // AdamW's first step is ≈ lr·sign(g): gradient elements whose sign an f32 computation decides differently from
    // float64 move by 2·lr — PyTorch float32 as much as the engine.
    expect(worstStep, `worst parameter after the step: ${worstStepName}`).toBeLessThan(1.5 * torchF32.float32.worst_step);
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
