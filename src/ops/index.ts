// The differentiable op API: every op runs its forward kernel(s) and, when gradients are recorded, registers the
// backward written beside it (src/autograd).
export { relu, leakyRelu, silu, sigmoid } from './activation.js';
export { add, sub, mul, sum, mean, reshape, cast, sumToShape, type Operand } from './arith.js';
export { attention, type AttentionOptions } from './attention.js';
export { conv3d, type Conv3dOptions } from './conv.js';
export { convTranspose3d, type ConvTranspose3dOptions } from './convtranspose.js';
export { embedding } from './embedding.js';
export { linear } from './linear.js';
export { diceBceLoss, mseLoss } from './loss.js';
export { groupNorm, instanceNorm } from './norm.js';
export { concat, split, transpose } from './shape.js';
export { upsample, type UpsampleOptions } from './upsample.js';
