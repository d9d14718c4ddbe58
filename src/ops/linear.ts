// Differentiable linear layer y = x·Wᵀ + b (PyTorch F.linear: W is [out, in]) over the last dimension of x,
// on the batched matmul kernels: dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy.
import { conv3dBackwardBias } from '../../kernels/conv3d.js';
import { binary } from '../../kernels/elementwise.js';
import { matmul } from '../../kernels/matmul.js';
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
  const x2 = x.reshape([rows, inF]);
  const xw = matmul(x2, weight, { transB: true });
  let y: Tensor;
  if (bias) {
    y = reshapeOwned(binary('add', xw, bias), outShape);
    xw.dispose();
  } else {
    y = reshapeOwned(xw, outShape);
  }
  if (!needsGrad(x, weight, bias)) {
    x2.dispose();
    return y;
  }
  const xs = weight.requiresGrad ? x2 : (x2.dispose(), null);
  const ws = x.requiresGrad ? save(weight) : null;
  if (xs) x.engine.keep(xs);
  const xShape = x.shape;
  record('linear', [x, weight, bias], [y], [xs, ws].filter((t): t is Tensor => t !== null), ([gy], needs) => {
    const g2 = gy!.reshape([rows, outF]);
    try {
      const dx = needs[0] ? reshapeOwned(matmul(g2, ws!), xShape) : null;
      const dw = needs[1] ? matmul(g2, xs!, { transA: true }) : null;
      const db = needs[2] ? conv3dBackwardBias(g2) : null;
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
