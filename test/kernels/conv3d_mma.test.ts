// The subgroup-matrix (tensor-core) conv3d variant, shaders/conv3d_mma.wgsl: f16 × f16 → f32 matrices of
// ms × ms × ms. It runs only where the adapter offers chromium-experimental-subgroup-matrix with a usable
// configuration (NVIDIA: 16×16×16 with subgroups of 32; Mesa lavapipe 26: 8×8×8 with subgroups of 8). The
// bookworm lavapipe (Mesa 25.0) of the default test run has no subgroup matrices, so these cases skip there;
// `npm run test:mma` (scripts/test-subgroup-matrix.sh) runs this file on Mesa 26's lavapipe.
//
// The kernel rounds x and w to f16 and accumulates in f32. Products of two f16 values are exact in f32, so
// against the float64 reference computed from the f16-rounded x and w, f32 outputs differ only by f32 summation
// (~1e-6 relative; bound 1e-5) and f16 outputs by one final rounding (≤ 2^-11 per element; bound 1e-3). A wrong
// tap, channel, K step or block edge gives O(1e-2) or more.
import { afterEach, describe, expect, it } from 'vitest';
import {
  conv3dBackwardInput,
  conv3dBackwardInputWith,
  conv3dBackwardWeight,
  conv3dBackwardWeightWith,
  conv3dForward,
  conv3dForwardWith,
  convMmaShape,
  directCandidates,
  directVariants,
  hasConvTensorCores,
  setConvTensorCores,
  wgradCandidates,
  wgradVariants,
} from '../../kernels/conv3d.js';
import { convTranspose3dBackwardWeight, convTranspose3dForward } from '../../kernels/convtranspose3d.js';
import { forceVariant } from '../../kernels/autotune.js';
import { backward } from '../../src/autograd/tape.js';
import { diceBceLoss } from '../../src/ops/loss.js';
import { freshDynUNet } from '../../src/train/trainer.js';
import { compareGrads, randomizeWeights, takeGrads } from '../models/grads.js';
import { roundF16 } from '../../src/tensor/f16.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, randArray, relErr, vesselfmCli } from '../helpers.js';
import { convOutShape, convTOutShape, poisonPool, refConv3d, refConv3dDw, refConv3dDx, refConvT3d, refConvT3dDw, size, type ConvCase } from './conv-ref.js';

const F16_TOL = 1e-3;
const F32_TOL = 1e-5;
const f16Values = (n: number, seed: number) => Float64Array.from(randArray(n, seed), roundF16);
const read = async (t: Tensor) => (await t.read()) as Float32Array;

// K = Cin·taps not a multiple of the matrix size; Cout not a multiple of the 4·ms block; positions not a multiple
// of 2·ms; stride 2 (four or eight residue classes in the input gradient); mixed kernels; batch 2; bias.
const CASES: ConvCase[] = [
  { xs: [2, 3, 5, 6, 7], ws: [5, 3, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true },
  { xs: [1, 7, 9, 7, 11], ws: [37, 7, 3, 3, 3], s: [2, 2, 2], p: [1, 1, 1] },
  { xs: [1, 19, 4, 5, 3], ws: [70, 19, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true },
  { xs: [1, 6, 7, 8, 9], ws: [9, 6, 3, 2, 1], s: [1, 2, 2], p: [1, 0, 0], bias: true },
  { xs: [2, 5, 8, 6, 6], ws: [11, 5, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0] },
  { xs: [2, 6, 5, 7, 6], ws: [9, 6, 1, 1, 1], s: [2, 2, 2], p: [0, 0, 0] },
  { xs: [2, 17, 3, 4, 5], ws: [33, 17, 1, 1, 1], s: [1, 1, 1], p: [0, 0, 0], bias: true },
  { xs: [2, 16, 4, 4, 4], ws: [16, 16, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1] },
];
const label = (c: ConvCase) => `x${c.xs.join('x')} w${c.ws.join('x')} s${c.s.join('')} p${c.p.join('')}${c.bias ? ' +bias' : ''}`;

afterEach(() => {
  setConvTensorCores(false);
  for (const k of ['conv3d.fwd', 'conv3d.dgrad', 'conv3d.wgrad', 'convT3d.fwd', 'convT3d.wgrad']) forceVariant(k, null);
});

describe('conv3d on subgroup matrices (mma)', async () => {
  const e = await getEngine();
  const shape = convMmaShape(e);
  const mmaName = shape ? `mma${shape.ms}` : '';
  const variant = () => directVariants(e, 'f16').find((v) => v.name === mmaName)!;
  const wVariant = () => wgradVariants(e, 'f16').find((v) => v.name === `w${mmaName}`)!;

  it('is offered for f16 activations where the adapter has a usable configuration, for f32 only on request', () => {
    const f16Names = directVariants(e, 'f16').map((v) => v.name);
    const f32Names = () => directVariants(e, 'f32').map((v) => v.name);
    const wNames = (dt: 'f16' | 'f32') => wgradVariants(e, dt).map((v) => v.name).filter((n) => n.startsWith('wmma'));
    expect(f16Names.filter((n) => n.startsWith('mma'))).toEqual(shape ? [mmaName] : []);
    expect(wNames('f16')).toEqual(shape ? [`w${mmaName}`] : []);
    expect(f32Names().some((n) => n.startsWith('mma'))).toBe(false);
    expect(wNames('f32')).toEqual([]);
    setConvTensorCores(true);
    expect(f32Names().filter((n) => n.startsWith('mma'))).toEqual(hasConvTensorCores(e) ? [mmaName] : []);
    expect(wNames('f32')).toEqual(hasConvTensorCores(e) ? [`w${mmaName}`] : []);
    // Staged in workgroup memory, so never timed by the tuner on a CPU adapter.
    if (e.gpu.info.architecture === 'software' || /llvmpipe|lavapipe/i.test(e.gpu.info.description)) {
      expect(directCandidates(e, 64, 320, false, 'f16').some((v) => v.config.kind === 'mma')).toBe(false);
      expect(wgradCandidates(e, 'f16').some((v) => v.config.mma)).toBe(false);
    }
  });

  it('vesselfm info names the tensor-core kernels the adapter can run (or none)', () => {
    const r = vesselfmCli(['info', '--json']);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(JSON.parse(r.out).convTensorCores).toEqual(shape);
    const text = vesselfmCli(['info']).out;
    expect(text).toMatch(shape ? new RegExp(`conv3d tensor cores: mma${shape.ms} \\(f16 → f32, ${shape.ms}×${shape.ms}×${shape.ms}, subgroups of ${shape.sg}`) : /conv3d tensor cores: no/);
  }, 120_000);

  it.skipIf(!shape)(`the adapter's configuration: ${shape ? `${shape.ms}×${shape.ms}×${shape.ms}, subgroups of ${shape.sg}` : 'none'}`, () => {
    expect([8, 16]).toContain(shape!.ms);
    expect(shape!.sg % shape!.ms).toBe(0);
  });

  for (const [ci, c] of CASES.entries()) {
    it.skipIf(!shape)(`forward, input gradient and weight gradient, f16 and f32 activations: ${label(c)}`, async () => {
      const x = f16Values(size(c.xs), 500 + ci);
      const w = f16Values(size(c.ws), 600 + ci); // f16-representable, so the kernel's rounding of w is exact
      const b = c.bias ? Float64Array.from(randArray(c.ws[0], 700 + ci), Math.fround) : null;
      const ys = convOutShape(c.xs, c.ws, c.s, c.p);
      const dy = f16Values(size(ys), 800 + ci);
      const opts = { stride: c.s, padding: c.p };
      const refY = refConv3d(x, c.xs, w, c.ws, b, c.s, c.p);
      const refDx = refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p);
      const refDw = refConv3dDw(dy, x, c.xs, c.ws, c.s, c.p);
      const wt = e.tensor(w, c.ws);
      const bt = b ? e.tensor(b, [c.ws[0]]) : null;
      setConvTensorCores(true);
      for (const dt of ['f16', 'f32'] as const) {
        const tol = dt === 'f16' ? F16_TOL : F32_TOL;
        const xt = e.tensor(x, c.xs, dt);
        const dyt = e.tensor(dy, ys, dt);
        poisonPool(e, ys, dt);
        const y = conv3dForwardWith(xt, wt, bt, opts, variant().config);
        expect(y.dtype).toBe(dt);
        expect(relErr(await read(y), refY), `forward ${dt}`).toBeLessThan(tol);
        poisonPool(e, c.xs, dt);
        const dx = conv3dBackwardInputWith(dyt, wt, c.xs, opts, variant().config);
        expect(relErr(await read(dx), refDx), `input gradient ${dt}`).toBeLessThan(tol);
        // dW is f32 either way: f16 products are exact in f32, so only f32 summation differs.
        poisonPool(e, c.ws, 'f32');
        const dw = conv3dBackwardWeightWith(dyt, xt, c.ws, opts, wVariant().config);
        expect(dw.dtype).toBe('f32');
        expect(relErr(await read(dw), refDw), `weight gradient ${dt}`).toBeLessThan(F32_TOL);
        [xt, dyt, y, dx, dw].forEach((t) => t.dispose());
      }
      wt.dispose();
      bt?.dispose();
    });
  }

  it.skipIf(!shape)('rounds f32 weights to f16 (what the f32 reference then differs by is that rounding only)', async () => {
    const c: ConvCase = { xs: [1, 4, 5, 6, 5], ws: [6, 4, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1] };
    const x = f16Values(size(c.xs), 31);
    const w = Float64Array.from(randArray(size(c.ws), 32), Math.fround);
    const xt = e.tensor(x, c.xs, 'f16');
    const wt = e.tensor(w, c.ws);
    const y = await read(conv3dForwardWith(xt, wt, null, { padding: 1 }, variant().config));
    const refRounded = refConv3d(x, c.xs, w.map(roundF16), c.ws, null, c.s, c.p);
    const refExact = refConv3d(x, c.xs, w, c.ws, null, c.s, c.p);
    expect(relErr(y, refRounded)).toBeLessThan(F16_TOL);
    // The weights' own rounding (≤ 2^-11 each) shows against the unrounded reference, but stays that small.
    expect(relErr(y, refExact)).toBeLessThan(2e-3);
  });

  it.skipIf(!shape)('the public entry points and convTranspose3d run it when chosen', async () => {
    const c: ConvCase = { xs: [1, 10, 6, 5, 7], ws: [12, 10, 3, 3, 3], s: [2, 2, 2], p: [1, 1, 1] };
    const x = f16Values(size(c.xs), 41);
    const w = f16Values(size(c.ws), 42);
    const ys = convOutShape(c.xs, c.ws, c.s, c.p);
    const dy = f16Values(size(ys), 43);
    const opts = { stride: c.s, padding: c.p };
    forceVariant('conv3d.fwd', mmaName);
    forceVariant('conv3d.dgrad', mmaName);
    forceVariant('conv3d.wgrad', `w${mmaName}`);
    forceVariant('convT3d.fwd', mmaName);
    forceVariant('convT3d.wgrad', `w${mmaName}`);
    const xt = e.tensor(x, c.xs, 'f16');
    const wt = e.tensor(w, c.ws);
    const dyt = e.tensor(dy, ys, 'f16');
    expect(relErr(await read(conv3dForward(xt, wt, null, opts)), refConv3d(x, c.xs, w, c.ws, null, c.s, c.p))).toBeLessThan(F16_TOL);
    expect(relErr(await read(conv3dBackwardInput(dyt, wt, c.xs, opts)), refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p))).toBeLessThan(F16_TOL);
    expect(relErr(await read(conv3dBackwardWeight(dyt, xt, c.ws, opts)), refConv3dDw(dy, x, c.xs, c.ws, c.s, c.p))).toBeLessThan(F32_TOL);
    // The decoder's upsampling: kernel 2, stride 2 (its forward is a conv input gradient).
    const ts: ConvCase = { xs: [1, 9, 3, 4, 5], ws: [9, 7, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0] };
    const tx = f16Values(size(ts.xs), 44);
    const tw = f16Values(size(ts.ws), 45);
    const tb = Float64Array.from(randArray(7, 46), Math.fround);
    const out = convTOutShape(ts.xs, ts.ws, ts.s, ts.p);
    poisonPool(e, out, 'f16');
    const ty = convTranspose3dForward(e.tensor(tx, ts.xs, 'f16'), e.tensor(tw, ts.ws), e.tensor(tb, [7]), { stride: 2 });
    expect(relErr(await read(ty), refConvT3d(tx, ts.xs, tw, ts.ws, tb, ts.s, ts.p))).toBeLessThan(F16_TOL);
    const tdy = f16Values(size(out), 47);
    const tdw = convTranspose3dBackwardWeight(e.tensor(tdy, out, 'f16'), e.tensor(tx, ts.xs, 'f16'), ts.ws, { stride: 2 });
    expect(relErr(await read(tdw), refConvT3dDw(tdy, tx, ts.xs, ts.ws, ts.s, ts.p))).toBeLessThan(F32_TOL);
  });

  it.skipIf(!shape)('a mixed-precision DynUNet step with every conv pass on subgroup matrices tracks the f32 step', async () => {
    // The weights and batch of test/models/mixed.test.ts (its first-step check without tensor cores), with every
    // weight made f16-representable: the kernels' rounding of the conv weights is then exact, so the mma run must be
    // as close to f32 as mixed precision without tensor cores is. (With unrounded weights the rounding itself moves
    // this network's first-step gradients by ~4e-3 overall and ~3.5e-2 on its worst tensor, a norm weight.)
    const net = freshDynUNet(e, [4, 8, 16], 3);
    randomizeWeights(e, net, 100);
    for (const p of net.parameters()) e.rt.write(p.buffer, 0, ((await p.read()) as Float32Array).map(roundF16));
    const [P, N] = [8, 2];
    const dims = [N, 1, P, P, P];
    const x = e.tensor(Float64Array.from(randArray(N * P ** 3, 5, 0, 1), roundF16), dims);
    const y = e.tensor(Float32Array.from(randArray(N * P ** 3, 6), (v) => (v > 0.3 ? 1 : 0)), dims);
    const S = 2 ** 16;
    const step = async (precision: 'f32' | 'mixed') => {
      net.precision = precision;
      const logits = net.forward(x);
      const out = (await logits.read()) as Float32Array;
      backward(diceBceLoss(logits, y), e.full([], precision === 'mixed' ? S : 1));
      return { out, grads: await takeGrads(net, precision === 'mixed' ? S : 1) };
    };
    const ref = await step('f32');
    const plain = compareGrads((await step('mixed')).grads, ref.grads);
    for (const k of ['conv3d.fwd', 'conv3d.dgrad', 'convT3d.fwd', 'convT3d.dgrad']) forceVariant(k, mmaName);
    for (const k of ['conv3d.wgrad', 'convT3d.wgrad']) forceVariant(k, `w${mmaName}`);
    const mix = await step('mixed');
    const c = compareGrads(mix.grads, ref.grads);
    console.log(
      `DynUNet [4,8,16] 2×8³, mixed precision on ${mmaName}/w${mmaName} vs f32: logits ${relErr(mix.out, ref.out).toExponential(2)}, ` +
        `gradients ${c.global.toExponential(2)} overall, worst ${c.worstName} ${c.worst.toExponential(2)} (without tensor cores ${plain.global.toExponential(2)}, ${plain.worst.toExponential(2)})`,
    );
    // How far mixed precision lands from f32 here is set by the LeakyReLU kinks and the norms (test/models/
    // dynunet-kinks.test.ts), not by one kernel: the claim checked is that tensor cores add nothing to it.
    expect(relErr(mix.out, ref.out)).toBeLessThan(1e-2);
    expect(c.global).toBeLessThan(1.5 * plain.global + 1e-3);
    expect(c.worst).toBeLessThan(1.5 * plain.worst + 1e-2);
    net.dispose();
  });
});
