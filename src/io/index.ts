// The file formats, browser-safe part (Uint8Array in and out). Node file helpers: files.ts (bytes, atomic
// writes, PNG files), volume.ts (readVolume/writeVolume by extension), checkpoint.ts (.pt/.safetensors files).
export * from './npy.js';
export * from './npz.js';
export * from './zip.js';
export * from './pickle.js';
export * from './tensors.js';
export * from './torch.js';
export * from './safetensors.js';
export * from './nifti.js';
export * from './tiff.js';
export * from './metaimage.js';
export * from './volume-codec.js';
export * from './png.js';
export * from './compress.js';
