// Pictures of domain randomisation for people: a contact sheet of image/mask MIPs and a strip of one sample through
// every stage, with labels drawn in a tiny 3×5 bitmap font (so no font files are needed). Platform-neutral.
import { mip, toGrey8, type Image8 } from '../../io/png.js';

// Each glyph: five rows of three bits, top row first ('1' = ink).
const GLYPHS: Record<string, string> = {
  a: '010101111101101', b: '110101110101110', c: '011100100100011', d: '110101101101110', e: '111100110100111',
  f: '111100110100100', g: '011100101101011', h: '101101111101101', i: '111010010010111', j: '001001001101010',
  k: '101101110101101', l: '100100100100111', m: '101111111101101', n: '110101101101101', o: '010101101101010',
  p: '110101110100100', q: '010101101110011', r: '110101110101101', s: '011100010001110', t: '111010010010010',
  u: '101101101101111', v: '101101101101010', w: '101101111111101', x: '101101010101101', y: '101101010010010',
  z: '111001010100111', '0': '111101101101111', '1': '010110010010111', '2': '110001010100111', '3': '110001010001110',
  '4': '101101111001001', '5': '111100110001110', '6': '011100111101111', '7': '111001010010010', '8': '111101111101111',
  '9': '111101111001110', ' ': '000000000000000', '-': '000000111000000', _: '000000000000111', '.': '000000000000010',
  '/': '001001010100100', ':': '000010000010000', '=': '000111000111000',
};

/** Width in pixels of `text` drawn at `scale`. */
export function textWidth(text: string, scale = 2): number {
  return text.length * 4 * scale - scale;
}

/** Draw `text` (letters, digits, a few symbols; case-insensitive) into an RGB image at (x, y). */
export function drawText(img: Image8, text: string, x: number, y: number, colour: [number, number, number] = [255, 255, 255], scale = 2): void {
  let cx = x;
  for (const ch of text.toLowerCase()) {
    const g = GLYPHS[ch] ?? GLYPHS[' '];
    for (let r = 0; r < 5; r++)
      for (let c = 0; c < 3; c++) {
        if (g[r * 3 + c] !== '1') continue;
        for (let dy = 0; dy < scale; dy++)
          for (let dx = 0; dx < scale; dx++) {
            const px = cx + c * scale + dx;
            const py = y + r * scale + dy;
            if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
            const o = (py * img.width + px) * img.channels;
            for (let k = 0; k < Math.min(3, img.channels); k++) img.data[o + k] = colour[k];
          }
      }
    cx += 4 * scale;
  }
}

function blit(dst: Image8, src: Image8, x0: number, y0: number): void {
  for (let y = 0; y < src.height; y++)
    for (let x = 0; x < src.width; x++) {
      const o = ((y0 + y) * dst.width + x0 + x) * 3;
      const i = (y * src.width + x) * src.channels;
      for (let k = 0; k < 3; k++) dst.data[o + k] = src.data[i + (src.channels === 1 ? 0 : k)];
    }
}

/** An upscaled copy (nearest) so small volumes stay visible. */
export function upscale(img: Image8, f: number): Image8 {
  if (f === 1) return img;
  const w = img.width * f;
  const h = img.height * f;
  const out = new Uint8Array(w * h * img.channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const s = (Math.floor(y / f) * img.width + Math.floor(x / f)) * img.channels;
      for (let k = 0; k < img.channels; k++) out[(y * w + x) * img.channels + k] = img.data[s + k];
    }
  return { width: w, height: h, channels: img.channels, data: out };
}

/** Panels in a grid of `columns`, each with a caption above it; RGB on dark grey. */
export function labelledGrid(panels: { image: Image8; label: string }[], columns: number, gap = 6, scale = 2): Image8 {
  const pw = Math.max(...panels.map((p) => Math.max(p.image.width, textWidth(p.label, scale))));
  const ph = Math.max(...panels.map((p) => p.image.height));
  const cap = 5 * scale + 4;
  const cols = Math.min(columns, panels.length);
  const rows = Math.ceil(panels.length / cols);
  const width = cols * pw + (cols + 1) * gap;
  const height = rows * (ph + cap) + (rows + 1) * gap;
  const img: Image8 = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(24) };
  panels.forEach((p, i) => {
    const x = gap + (i % cols) * (pw + gap);
    const y = gap + Math.floor(i / cols) * (ph + cap + gap);
    drawText(img, p.label, x, y, [235, 235, 120], scale);
    blit(img, p.image, x, y + cap);
  });
  return img;
}

/** MIP along axis 0 of a [z, y, x] volume as 8-bit grey, over `range` (default its own min..max). */
export function mipImage(data: ArrayLike<number>, shape: readonly number[], range?: [number, number]): Image8 {
  return toGrey8(mip(data as Float32Array, shape, 0), range);
}
