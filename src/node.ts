// Node entry point: an Engine on Dawn (npm `webgpu`).
import { Engine } from './engine.js';
import { createNodeDevice, type NodeGpuOptions } from './gpu/node.js';

export async function createEngine(opts: NodeGpuOptions = {}): Promise<Engine> {
  return new Engine(await createNodeDevice(opts));
}

export * from './index.js';
// Node's segment() also takes file paths (input image, checkpoint); it replaces the Volume-only one re-exported above.
export { segment, loadSegmenter } from './segment-node.js';
export type { SegmentFileOptions } from './segment-node.js';
