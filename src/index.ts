// The platform-neutral library surface.
export { Engine } from './engine.js';
export { Tensor } from './tensor/tensor.js';
export type { DType } from './tensor/dtype.js';
export { VesselError, GpuError } from './gpu/errors.js';
export { describeAdapter } from './gpu/device.js';
export type { GpuDevice, AdapterSummary } from './gpu/device.js';
export * as math from './tensor/math.js';
// Segmentation metrics and post-processing on binary volumes (CPU).
export { evaluateSegmentation, binarize, clDice, dice, confusion } from './eval/metrics.js';
export type { SegmentationMetrics, ClDice, Confusion } from './eval/metrics.js';
export { skeletonize3d } from './eval/skeleton.js';
export { bettiNumbers, bettiErrors, eulerCharacteristic } from './eval/betti.js';
export type { Betti, BettiErrors } from './eval/betti.js';
export { labelComponents, countComponents, removeSmallObjects } from './eval/components.js';
export { percentile, percentiles, percentileScale } from './eval/percentile.js';
export type { PercentileScaling } from './eval/percentile.js';
// Autograd, differentiable ops, modules and optimizers.
export * as autograd from './autograd/index.js';
export * as ops from './ops/index.js';
export * as nn from './nn/index.js';
export * as optim from './nn/optim/index.js';
// The segmenter: one call from a volume and weights to a mask with the input's geometry (CLI and browser alike).
export { segment, buildSegmenter } from './segment.js';
export type { SegmentCallOptions, SegmentResult, SegmentStats, StateDictInput } from './segment.js';
export type { SegmentOptions } from './eval/inference.js';
