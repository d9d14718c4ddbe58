export { Module, ModuleList, type StateValue } from './module.js';
export { Parameter } from './parameter.js';
export { Conv3d, ConvTranspose3d, Linear, InstanceNorm3d, GroupNorm, Embedding, LeakyReLU, SiLU, type ConvOptions } from './layers.js';
export { Generator, defaultGenerator, manualSeed, fanIn, kaimingUniformDefault, biasUniformDefault } from './init.js';
