// Domain randomisation (D_drand, spec §4) on the GPU: moulds (real or procedural vessel trees), label transforms,
// backgrounds, compositing, the intensity chain, and whole samples from (seed, index). Platform-neutral; reading
// mould files is in moulds-node.ts (Node).
export * from './params.js';
export * from './noise.js';
export * from './backgrounds.js';
export * from './intensity.js';
export * from './tree.js';
export * from './moulds.js';
export * from './spatial.js';
export * from './composite.js';
export * from './sample.js';
