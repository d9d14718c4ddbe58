// PNG previews: an encoder (grey, RGB, RGBA; 8-bit; zlib via compress.ts, so it runs in browsers too), and the
// pictures training previews and the demo show: maximum-intensity projections (MIPs) of a volume along an axis,
// a side-by-side strip of several panels, and a mask overlay (label and prediction in two colours).
import { VesselError } from '../gpu/errors.js';
import { compression } from './compress.js';
import { crc32 } from './zip.js';

type Numeric = ArrayLike<number>;

/** An 8-bit image: `channels` interleaved samples per pixel, rows top to bottom. */
export interface Image8 {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** A float image (one channel), e.g. a projection before scaling. */
export interface ImageF {
  width: number;
  height: number;
  data: Float32Array;
}

/** Encode an 8-bit PNG (colour type grey, RGB or RGBA; no filtering beyond per-row "up"). */
export function encodePng(img: Image8, level = 6): Uint8Array {
  const { width, height, channels, data } = img;
  if (width < 1 || height < 1) throw new VesselError(`png: empty image ${width}×${height}`);
  if (data.length !== width * height * channels) throw new VesselError(`png: ${data.length} bytes for a ${width}×${height}×${channels} image`);
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const row = data.subarray(y * stride, (y + 1) * stride);
    if (y === 0) {
      raw[o] = 0; // None
      raw.set(row, o + 1);
    } else {
      raw[o] = 2; // Up: previous row subtracted (projections are smooth vertically)
      const prev = data.subarray((y - 1) * stride, y * stride);
      for (let i = 0; i < stride; i++) raw[o + 1 + i] = (row[i] - prev[i]) & 0xff;
    }
  }
  const idat = compression().zlib(raw, level);
  const chunk = (type: string, body: Uint8Array) => {
    const c = new Uint8Array(12 + body.length);
    const dv = new DataView(c.buffer);
    dv.setUint32(0, body.length);
    for (let i = 0; i < 4; i++) c[4 + i] = type.charCodeAt(i);
    c.set(body, 8);
    dv.setUint32(8 + body.length, crc32(c.subarray(4, 8 + body.length)));
    return c;
  };
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  const parts = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/**
 * Maximum-intensity projection of a [z, y, x] volume along `axis` (0 = z: a y×x image; 1 = y: z×x; 2 = x: z×y).
 */
export function mip(data: Numeric, shape: readonly [number, number, number] | readonly number[], axis: 0 | 1 | 2 = 0): ImageF {
  const [nz, ny, nx] = shape;
  if (data.length !== nz * ny * nx) throw new VesselError(`mip: ${data.length} values for shape [${shape.join(', ')}]`);
  const [h, w] = axis === 0 ? [ny, nx] : axis === 1 ? [nz, nx] : [nz, ny];
  const out = new Float32Array(h * w).fill(-Infinity);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const base = (z * ny + y) * nx;
      if (axis === 0) {
        const o = y * nx;
        for (let x = 0; x < nx; x++) {
          const v = data[base + x];
          if (v > out[o + x]) out[o + x] = v;
        }
      } else if (axis === 1) {
        const o = z * nx;
        for (let x = 0; x < nx; x++) {
          const v = data[base + x];
          if (v > out[o + x]) out[o + x] = v;
        }
      } else {
        let m = -Infinity;
        for (let x = 0; x < nx; x++) {
          const v = data[base + x];
          if (v > m) m = v;
        }
        const o = z * ny + y;
        if (m > out[o]) out[o] = m;
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** Scale a float image to 8 bits: `range` [lo, hi] maps to [0, 255] (default: the image's own finite min..max). */
export function toGrey8(img: ImageF, range?: [number, number]): Image8 {
  let [lo, hi] = range ?? [Infinity, -Infinity];
  if (!range) {
    for (let i = 0; i < img.data.length; i++) {
      const v = img.data[i];
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!(hi >= lo)) [lo, hi] = [0, 1];
  }
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = img.data[i];
    const s = Number.isFinite(v) ? (v - lo) * scale : v > 0 ? 255 : 0;
    out[i] = s <= 0 ? 0 : s >= 255 ? 255 : Math.round(s);
  }
  return { width: img.width, height: img.height, channels: 1, data: out };
}

function toRgb(img: Image8): Image8 {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = img.channels === 1 ? [img.data[i], img.data[i], img.data[i]] : [img.data[4 * i], img.data[4 * i + 1], img.data[4 * i + 2]];
    out[3 * i] = s[0];
    out[3 * i + 1] = s[1];
    out[3 * i + 2] = s[2];
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Panels side by side (tops aligned), separated by `gap` pixels of `background` grey; the result is RGB. */
export function strip(panels: Image8[], gap = 4, background = 32): Image8 {
  if (panels.length === 0) throw new VesselError('png: a strip needs at least one panel');
  const height = Math.max(...panels.map((p) => p.height));
  const width = panels.reduce((s, p) => s + p.width, 0) + gap * (panels.length - 1);
  const out = new Uint8Array(width * height * 3).fill(background);
  let x0 = 0;
  for (const panel of panels) {
    const rgb = toRgb(panel);
    for (let y = 0; y < rgb.height; y++) out.set(rgb.data.subarray(y * rgb.width * 3, (y + 1) * rgb.width * 3), (y * width + x0) * 3);
    x0 += panel.width + gap;
  }
  return { width, height, channels: 3, data: out };
}

export interface OverlayColours {
  label: [number, number, number];
  prediction: [number, number, number];
  both: [number, number, number];
}

/** Label green, prediction magenta, agreement white — distinguishable for the common colour-vision deficiencies. */
export const DEFAULT_COLOURS: OverlayColours = { label: [0, 200, 0], prediction: [230, 0, 230], both: [255, 255, 255] };

export interface OverlayOptions {
  /** colour opacity over the background (default 0.6) */
  alpha?: number;
  colours?: OverlayColours;
  /** a label pixel is set where its value > this (default 0) */
  labelThreshold?: number;
  /** a prediction pixel is set where its value > this (default 0.5: probabilities or 0/1 masks) */
  predictionThreshold?: number;
}

/**
 * A grey background with masks painted over it: `label` in one colour, `prediction` in another, pixels in both
 * in a third, blended with the background by `alpha`.
 */
export function overlay(background: Image8, label: ImageF | null, prediction: ImageF | null, options: OverlayOptions = {}): Image8 {
  const alpha = options.alpha ?? 0.6;
  const colours = options.colours ?? DEFAULT_COLOURS;
  const lt = options.labelThreshold ?? 0;
  const pt = options.predictionThreshold ?? 0.5;
  const rgb = toRgb(background);
  const n = rgb.width * rgb.height;
  for (const m of [label, prediction]) {
    if (m && (m.width !== rgb.width || m.height !== rgb.height)) throw new VesselError(`png: mask ${m.width}×${m.height} does not match image ${rgb.width}×${rgb.height}`);
  }
  const out = rgb.data.slice();
  for (let i = 0; i < n; i++) {
    const l = label ? label.data[i] > lt : false;
    const p = prediction ? prediction.data[i] > pt : false;
    if (!l && !p) continue;
    const c = l && p ? colours.both : l ? colours.label : colours.prediction;
    for (let k = 0; k < 3; k++) out[3 * i + k] = Math.round(out[3 * i + k] * (1 - alpha) + c[k] * alpha);
  }
  return { width: rgb.width, height: rgb.height, channels: 3, data: out };
}

export interface PreviewInput {
  /** [z, y, x] */
  shape: readonly [number, number, number] | readonly number[];
  image: Numeric;
  label?: Numeric | null;
  prediction?: Numeric | null;
  /** intensity range for the image panel (default its MIP's min..max) */
  range?: [number, number];
  /** prediction threshold for the overlay (default 0.5) */
  threshold?: number;
}

/**
 * The training/demo preview for one projection axis: [image MIP | label MIP | prediction MIP | overlay], the
 * panels that are available, side by side.
 */
export function previewStrip(p: PreviewInput, axis: 0 | 1 | 2 = 0): Image8 {
  const img = toGrey8(mip(p.image, p.shape, axis), p.range);
  const panels: Image8[] = [img];
  const lab = p.label ? mip(p.label, p.shape, axis) : null;
  const pred = p.prediction ? mip(p.prediction, p.shape, axis) : null;
  if (lab) panels.push(toGrey8(lab, [0, Math.max(1e-12, maxOf(lab.data))]));
  if (pred) panels.push(toGrey8(pred, [0, Math.max(1e-12, maxOf(pred.data))]));
  if (lab || pred) panels.push(overlay(img, lab, pred, { predictionThreshold: p.threshold ?? 0.5 }));
  return strip(panels);
}

function maxOf(d: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < d.length; i++) if (d[i] > m) m = d[i];
  return m;
}
