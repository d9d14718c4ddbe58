// The platform-neutral library surface.
export { Engine } from './engine.js';
export { Tensor } from './tensor/tensor.js';
export type { DType } from './tensor/dtype.js';
export { VesselError, GpuError } from './gpu/errors.js';
export { describeAdapter } from './gpu/device.js';
export type { GpuDevice, AdapterSummary } from './gpu/device.js';
export * as math from './tensor/math.js';
