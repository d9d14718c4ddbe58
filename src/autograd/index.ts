export { backward, runBackward, noGrad, noGradAsync, enableGrad, isGradEnabled, needsGrad, record, save, own, zeroGrad, detach, edgeOf, Node } from './tape.js';
export type { BackwardFn, BackwardOptions, Edge } from './tape.js';
export { checkpoint } from './checkpoint.js';
export { assertFinite, checkFinite } from './finite.js';
