// Parameter: a leaf tensor that requires grad and lives outside scope management (a model owns it until it is
// disposed explicitly).
import type { Engine } from '../engine.js';
import type { DType } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

export class Parameter extends Tensor {
  /** Wrap `t`'s storage as a parameter (t itself is disposed; the storage is shared, not copied). */
  static from(t: Tensor, requiresGrad = true): Parameter {
    t.storage.retain();
    const p = new Parameter(t.engine, t.shape, t.dtype, t.storage);
    t.dispose();
    p.engine.keep(p);
    p.requiresGrad = requiresGrad;
    return p;
  }

  static zeros(engine: Engine, shape: Shape, dtype: DType = 'f32'): Parameter {
    return Parameter.from(engine.zeros(shape, dtype));
  }

  static full(engine: Engine, shape: Shape, value: number, dtype: DType = 'f32'): Parameter {
    return Parameter.from(engine.full(shape, value, dtype));
  }
}
