import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { backward, noGrad } from '../../src/autograd/tape.js';
import { loadWeights, withAliases } from '../../src/io/checkpoint.js';
import { readNpzFile } from '../../src/io/files.js';
import { npyToFloat32 } from '../../src/io/npy.js';
import { DynUNet } from '../../src/models/dynunet.js';
import { diceBceLoss } from '../../src/ops/loss.js';
import { concat } from '../../src/ops/shape.js';
import { Parameter } from '../../src/nn/parameter.js';
import { refConv3d, refConv3dDx } from '../kernels/conv-ref.js';
import { getEngine, relErr } from '../helpers.js';

const shared = resolve(process.cwd(), '..', 'shared', 'fixtures', 'torch');
function inorm(x: Float64Array, N: number, C: number, S: number, g: ArrayLike<number>, b: ArrayLike<number>) {
  const y = new Float64Array(x.length), xh = new Float64Array(x.length), rs = new Float64Array(N * C);
  for (let q = 0; q < N * C; q++) {
    const c = q % C, o = q * S;
    let m = 0; for (let i = 0; i < S; i++) m += x[o + i]; m /= S;
    let v = 0; for (let i = 0; i < S; i++) v += (x[o + i] - m) ** 2; v /= S;
    rs[q] = 1 / Math.sqrt(v + 1e-5);
    for (let i = 0; i < S; i++) { xh[o + i] = (x[o + i] - m) * rs[q]; y[o + i] = g[c] * xh[o + i] + b[c]; }
  }
  return { y, xh, rs };
}
function inormBack(dy: Float64Array, xh: Float64Array, rs: Float64Array, N: number, C: number, S: number, g: ArrayLike<number>) {
  const dx = new Float64Array(dy.length), dg = new Float64Array(C), db = new Float64Array(C);
  for (let q = 0; q < N * C; q++) {
    const c = q % C, o = q * S;
    let a = 0, bb = 0; for (let i = 0; i < S; i++) { a += dy[o + i]; bb += dy[o + i] * xh[o + i]; }
    db[c] += a; dg[c] += bb;
    for (let i = 0; i < S; i++) dx[o + i] = g[c] * rs[q] * (dy[o + i] - a / S - xh[o + i] * bb / S);
  }
  return { dx, dg, db };
}
// Why some DynUNet gradients differ from PyTorch's float64 reference by ~1e-3 although every kernel is exact: the
// LeakyReLU kink makes a gradient jump by 0.99·(incoming gradient) when a pre-activation changes sign, and with
// 2×64³ voxels per channel an f32 forward always has a few pre-activations within ~1e-7 of zero whose sign a
// float64 forward decides differently. This test proves it on the last decoder block: from the very same f32
// block input, our gradients equal a float64 CPU backward to 1e-5, and PyTorch's norm1.bias gradient differs from
// ours in exactly the channel whose nearest-to-zero pre-activation (|y| ≈ 2.5e-7) flips, by exactly that flip.
it('matches a float64 backward of the last decoder block; the PyTorch gap is one LeakyReLU kink flip', async () => {
  const e = await getEngine();
  const sd = withAliases(loadWeights(resolve(shared, 'dynunet_small.pt')));
  const fx = readNpzFile(resolve(shared, 'dynunet_small.npz'));
  const arr = (k: string) => npyToFloat32(fx.get(k)!);
  const net = DynUNet.fromStateDict(e, sd);
  net.loadStateDict(sd);
  const x = e.tensor(arr('x'), fx.get('x')!.shape);
  const target = arr('target');
  const cT = noGrad(() => {
    const skips = [net.input_block.forward(x)];
    for (const blk of net.downsamples) skips.push(blk.forward(skips[skips.length - 1]));
    let h = net.bottleneck.forward(skips[skips.length - 1]);
    for (const up of net.upsamples.slice(0, 4)) h = up.forward(h, skips.pop()!);
    const u = net.upsamples[4].transp_conv.forward(h);
    return concat([u, skips.pop()!], 1);
  });
  const C = Parameter.from(cT);
  const blk = net.upsamples[4].conv_block;
  const logits = net.output_block.forward(blk.forward(C));
  const loss = diceBceLoss(logits, e.tensor(target, fx.get('target')!.shape));
  backward(loss);
  const ours = { db1: await blk.norm1.bias.grad!.read(), dg1: await blk.norm1.weight.grad!.read(), dw2: await blk.conv2.conv.weight.grad!.read() };
  // f64 CPU from the same f32 input c
  const c = Float64Array.from(await C.read());
  const N = 2, D = 64, S = D * D * D;
  const rd = async (t: any) => Float64Array.from(await t.read());
  const w1 = await rd(blk.conv1.conv.weight), w2 = await rd(blk.conv2.conv.weight);
  const g1 = await rd(blk.norm1.weight), b1 = await rd(blk.norm1.bias), g2 = await rd(blk.norm2.weight), b2 = await rd(blk.norm2.bias);
  const wo = await rd(net.output_block.conv.conv.weight), bo = await rd(net.output_block.conv.conv.bias!);
  const y1 = refConv3d(c, [N, 8, D, D, D], w1, [4, 8, 3, 3, 3], null, [1, 1, 1], [1, 1, 1]);
  const n1 = inorm(y1, N, 4, S, g1, b1);
  const a1 = n1.y.map((v) => (v > 0 ? v : 0.01 * v));
  const y2 = refConv3d(a1, [N, 4, D, D, D], w2, [4, 4, 3, 3, 3], null, [1, 1, 1], [1, 1, 1]);
  const n2 = inorm(y2, N, 4, S, g2, b2);
  const a2 = n2.y.map((v) => (v > 0 ? v : 0.01 * v));
  const lo = new Float64Array(N * S);
  for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) { let s = bo[0]; for (let k = 0; k < 4; k++) s += wo[k] * a2[(n * 4 + k) * S + i]; lo[n * S + i] = s; }
  const dl = new Float64Array(N * S);
  for (let n = 0; n < N; n++) {
    let I = 0, G2 = 0, P2 = 0;
    for (let i = 0; i < S; i++) { const p = 1 / (1 + Math.exp(-lo[n * S + i])); I += p * target[n * S + i]; G2 += target[n * S + i] ** 2; P2 += p * p; }
    const num = 2 * I + 1e-5, den = G2 + P2 + 1e-5;
    for (let i = 0; i < S; i++) { const p = 1 / (1 + Math.exp(-lo[n * S + i])), gg = target[n * S + i]; dl[n * S + i] = -(2 * gg / den - num * 2 * p / (den * den)) * 0.9 / N * p * (1 - p) + 0.1 * (p - gg) / (N * S); }
  }
  const da2 = new Float64Array(N * 4 * S);
  for (let n = 0; n < N; n++) for (let k = 0; k < 4; k++) for (let i = 0; i < S; i++) { const q = (n * 4 + k) * S + i; da2[q] = wo[k] * dl[n * S + i] * (n2.y[q] > 0 ? 1 : 0.01); }
  const b2r = inormBack(da2, n2.xh, n2.rs, N, 4, S, g2);
  const dh = refConv3dDx(b2r.dx, w2, [4, 4, 3, 3, 3], [N, 4, D, D, D], [1, 1, 1], [1, 1, 1]);
  // For each channel, the gradient shift a sign flip of its nearest-to-zero pre-activation would cause.
  const flip: number[] = [];
  for (let c0 = 0; c0 < 4; c0++) {
    let best = Infinity;
    let q0 = -1;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) { const q = (n * 4 + c0) * S + i; if (Math.abs(n1.y[q]) < best) [best, q0] = [Math.abs(n1.y[q]), q]; }
    flip.push(0.99 * dh[q0]);
  }
  for (let q = 0; q < dh.length; q++) dh[q] *= n1.y[q] > 0 ? 1 : 0.01;
  const b1r = inormBack(dh, n1.xh, n1.rs, N, 4, S, g1);
  const pt = (k: string) => arr(`grad.upsamples.4.conv_block.${k}`);
  expect(relErr(ours.db1, b1r.db)).toBeLessThan(1e-5);
  expect(relErr(ours.dg1, b1r.dg)).toBeLessThan(1e-5);
  const torch = pt('norm1.bias');
  for (let c0 = 0; c0 < 4; c0++) {
    const gap = torch[c0] - ours.db1[c0];
    // Either no flip in this channel (gap at rounding level) or exactly the flip of its nearest-zero voxel.
    const explained = Math.abs(gap) < 1e-5 * Math.abs(ours.db1[c0]) || Math.abs(Math.abs(gap) - Math.abs(flip[c0])) < 0.02 * Math.abs(flip[c0]);
    expect(explained, `channel ${c0}: PyTorch − ours = ${gap}, one flip = ${flip[c0]}`).toBe(true);
  }
  expect(Math.abs(torch[0] - ours.db1[0])).toBeGreaterThan(1e-7); // the flip this fixture has (channel 0)
}, 900_000);
