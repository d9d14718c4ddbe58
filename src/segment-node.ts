// Node's segmenter call: like src/segment.ts, but the input may be a file path (any format src/io reads) and the
// weights a checkpoint path (.pt as torch.save writes it, e.g. the released vesselFM_base.pt, or our safetensors).
// src/node.ts exports this `segment` in place of the browser one.
import type { Engine } from './engine.js';
import { loadWeights, withAliases } from './io/checkpoint.js';
import { readVolume, type Volume } from './io/volume.js';
import type { DynUNet } from './models/dynunet.js';
import { buildSegmenter, segment as segmentVolumeCall, type SegmentCallOptions, type SegmentResult, type StateDictInput } from './segment.js';

/** A DynUNet sized and loaded from a checkpoint file (.pt/.pth/.ckpt or .safetensors). */
export function loadSegmenter(engine: Engine, path: string): DynUNet {
  return buildSegmenter(engine, withAliases(loadWeights(path)));
}

export interface SegmentFileOptions extends Omit<SegmentCallOptions, 'weights'> {
  weights: string | DynUNet | StateDictInput;
}

/** Segment a volume or an image file; a weights path is loaded for this call and released after it. */
export async function segment(engine: Engine, input: Volume | string, opts: SegmentFileOptions): Promise<SegmentResult> {
  const vol = typeof input === 'string' ? readVolume(input) : input;
  if (typeof opts.weights !== 'string') return segmentVolumeCall(engine, vol, { ...opts, weights: opts.weights });
  const net = loadSegmenter(engine, opts.weights);
  try {
    return await segmentVolumeCall(engine, vol, { ...opts, weights: net });
  } finally {
    net.dispose();
  }
}
