// Differentiable linear layer y = x·Wᵀ + b (PyTorch F.linear: W is [out, in]) over the last dimension of x,
// on the batched matmul kernels: dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy.
// Mixed precision: x f16 with f32 W and b gives an f16 y (x·Wᵀ + b computed in f32, rounded once); the backward
// gives dx in x's dtype and dW, db in f32.
import { conv3dBackwardBias } from '../../kernels/conv3d.js';
import { binary } from '../../kernels/elementwise.js';
import { matmul, matmulMixed } from '../../kernels/matmul.js';
import { cast } from '../../kernels/elementwise.js';
import { gradTo } from './arith.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { VesselError } from '../gpu/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.rank !== 2) throw new VesselError(`linear: weight ${fmtShape(weight.shape)} must be [out, in]`);
  const [outF, inF] = weight.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) throw new VesselError(`linear: input ${fmtShape(x.shape)} does not end in ${inF} features (weight ${fmtShape(weight.shape)})`);
  if (bias && (bias.rank !== 1 || bias.size !== outF)) throw new VesselError(`linear: bias ${fmtShape(bias.shape)} must be [${outF}] for weight ${fmtShape(weight.shape)}`);
  const rows = x.size / inF;
  const outShape = [...x.shape.slice(0, -1), outF];
  const mixed = x.dtype !== 'f32' || weight.dtype !== 'f32' || (bias !== null && bias.dtype !== 'f32');
  if (mixed) checkMixed(x, weight, bias);
  const x2 = x.reshape([rows, inF]);
  const xw = mixed ? matmulMixed(x2, weight, { transB: true, outDtype: 'f32' }) : matmul(x2, weight, { transB: true });
  let y: Tensor;
  if (bias) {
    y = reshapeOwned(binary('add', xw, bias), outShape);
    xw.dispose();
  } else {
    y = reshapeOwned(xw, outShape);
  }
  if (mixed && x.dtype !== y.dtype) y = reshapeOwned(cast(y, x.dtype), outShape);
  if (!needsGrad(x, weight, bias)) {
    x2.dispose();
    return y;
  }
  const xs = weight.requiresGrad ? x2 : (x2.dispose(), null);
  const ws = x.requiresGrad ? save(weight) : null;
  if (xs) x.engine.keep(xs);
  const xShape = x.shape;
  const xDtype = x.dtype as 'f32' | 'f16';
  const wDtype = weight.dtype as 'f32' | 'f16';
  const bDtype = bias?.dtype ?? 'f32';
  record('linear', [x, weight, bias], [y], [xs, ws].filter((t): t is Tensor => t !== null), ([gy], needs) => {
    const g2 = gy!.reshape([rows, outF]);
    try {
      if (!mixed) {
        const dx = needs[0] ? reshapeOwned(matmul(g2, ws!), xShape) : null;
        const dw = needs[1] ? matmul(g2, xs!, { transA: true }) : null;
        const db = needs[2] ? conv3dBackwardBias(g2) : null;
        return [dx, dw, db];
      }
      const dx = needs[0] ? reshapeOwned(matmulMixed(g2, ws!, { outDtype: xDtype }), xShape) : null;
      const dw = needs[1] ? matmulMixed(g2, xs!, { transA: true, outDtype: wDtype }) : null;
      const db = needs[2] ? gradTo(g2, [outF], bDtype) : null;
      return [dx, dw, db];
    } finally {
      g2.dispose();
    }
  });
  return y;
}

function reshapeOwned(t: Tensor, shape: readonly number[]): Tensor {
  const r = t.reshape(shape);
  t.dispose();
  return r;
}

function checkMixed(x: Tensor, weight: Tensor, bias: Tensor | null): void {
  const floats = (t: Tensor | null) => !t || t.dtype === 'f32' || t.dtype === 'f16';
  if (!floats(x) || !floats(weight) || !floats(bias)) {
    throw new VesselError(`linear: input ${fmtShape(x.shape)} ${x.dtype}, weight ${fmtShape(weight.shape)} ${weight.dtype}${bias ? `, bias ${bias.dtype}` : ''}: f32 or f16 (with f32 parameters) required`);
  }
  if (!x.engine.gpu.hasF16) throw new VesselError(`linear: f16 input ${fmtShape(x.shape)} needs an adapter with shader-f16`);
}
