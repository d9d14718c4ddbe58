// The segmentation page (browser/segment.html): a person picks a 3D image and a checkpoint, sets the sliding-window
// options, and runs the library's `segment` call (src/segment.ts, the one the CLI runs) on navigator.gpu, with the
// same WGSL kernels as in Node. The image is decoded and the mask encoded by src/io's byte-level codecs, so the
// downloaded mask has the input's format and geometry. Plain DOM; every failure is one line in #error.
import { createEngine } from '../src/browser.js';
import type { Engine } from '../src/engine.js';
import { describeAdapter } from '../src/gpu/device.js';
import { VesselError } from '../src/gpu/errors.js';
import { percentiles } from '../src/eval/percentile.js';
import { readMetaHeader } from '../src/io/metaimage.js';
import { mip, overlay, toGrey8, type Image8, type ImageF } from '../src/io/png.js';
import { readSafetensors } from '../src/io/safetensors.js';
import type { TensorRecord } from '../src/io/tensors.js';
import { readTorch, stateDict } from '../src/io/torch.js';
import { axisCodes, decodeVolume, encodeVolume, formatOf, type Volume, type VolumeFormat } from '../src/io/volume-codec.js';
import { isZip } from '../src/io/zip.js';
import type { DynUNet } from '../src/models/dynunet.js';
import { buildSegmenter, segment, type SegmentResult } from '../src/segment.js';

const IMAGE_TYPES = '.nii, .nii.gz, .tif, .tiff, .mha, .mhd (+ its .raw), .npy, .npz';
const EXTENSIONS = ['.nii.gz', '.nii', '.tiff', '.tif', '.mha', '.mhd', '.npy', '.npz'];

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`segment.html lacks #${id}`);
  return el as T;
};

const ui = {
  gpu: $<HTMLDivElement>('gpu'),
  volume: $<HTMLInputElement>('volume'),
  volumeInfo: $<HTMLDivElement>('volume-info'),
  weights: $<HTMLInputElement>('weights'),
  weightsInfo: $<HTMLDivElement>('weights-info'),
  patch: $<HTMLInputElement>('patch'),
  overlap: $<HTMLInputElement>('overlap'),
  threshold: $<HTMLInputElement>('threshold'),
  minSize: $<HTMLInputElement>('min-size'),
  tta: $<HTMLInputElement>('tta'),
  half: $<HTMLInputElement>('half'),
  normalize: $<HTMLInputElement>('normalize'),
  wantProb: $<HTMLInputElement>('want-prob'),
  run: $<HTMLButtonElement>('run'),
  stop: $<HTMLButtonElement>('stop'),
  progress: $<HTMLProgressElement>('progress'),
  status: $<HTMLSpanElement>('status'),
  error: $<HTMLParagraphElement>('error'),
  summary: $<HTMLDivElement>('summary'),
  viewMode: $<HTMLSelectElement>('view-mode'),
  downloads: $<HTMLParagraphElement>('downloads'),
  downloadMask: $<HTMLAnchorElement>('download-mask'),
  downloadProb: $<HTMLAnchorElement>('download-prob'),
};

type State = 'starting' | 'no-gpu' | 'idle' | 'loading' | 'running' | 'done' | 'error';

interface LoadedImage {
  vol: Volume;
  /** the image file's name (the .mhd's when a header and its data file were chosen) */
  name: string;
  format: VolumeFormat;
  /** per-axis display range of the projections (robust: 0.5th–99.5th percentile) */
  mips: [ImageF, ImageF, ImageF];
}

interface LoadedWeights {
  key: string;
  name: string;
  net: DynUNet;
}

let engine: Engine | null = null;
let image: LoadedImage | null = null;
let weightsFile: File | null = null;
let weights: LoadedWeights | null = null;
let result: { res: SegmentResult; maskMips: [ImageF, ImageF, ImageF] } | null = null;
let busy = false;
/** Set by the Stop button; the progress callback then ends the run between two batches of windows. */
let stopRequested = false;
class Stopped extends Error {}
/** Why there is no engine (no WebGPU, no adapter), once that is known; it stays on screen. */
let gpuProblem: string | null = null;
const urls: string[] = [];

// ---------------------------------------------------------------------------------------------------------------
// Messages: one line, never a stack.

/** One line for any thrown value: the VesselError's own message, else the error's first line. */
function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n').map((s) => s.trim()).filter(Boolean).join(' ');
  const text = first || (e instanceof Error ? e.name : 'unknown error');
  if (e instanceof VesselError) return text;
  if (e instanceof RangeError && /alloc|memory/i.test(text)) return `Not enough memory in this browser tab (${text}); try a smaller image or close other tabs`;
  // Anything else is unexpected (a browser API, out of memory…): say what it was, still on one line.
  const kind = e instanceof Error && e.name && e.name !== 'Error' ? `${e.name}: ` : '';
  return `Unexpected error: ${kind}${text}`;
}

function setState(state: State, text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  document.body.dataset.state = state;
}

function showError(e: unknown): void {
  ui.error.textContent = oneLine(e);
  setState('error', '');
  ui.progress.hidden = true;
}

function clearError(): void {
  ui.error.textContent = gpuProblem ?? '';
}

/** Back to waiting for the user (or stuck without WebGPU). */
function setReady(text: string): void {
  if (gpuProblem) setState('no-gpu', 'Cannot run without WebGPU.');
  else if (!engine) setState('starting', 'Starting…');
  else setState('idle', text);
}

function refreshRunButton(): void {
  ui.run.disabled = busy || !engine || !image || !weightsFile;
}

/** While the page reads or segments, the files and settings stay as they are. */
function setBusy(b: boolean): void {
  busy = b;
  for (const el of document.querySelectorAll<HTMLInputElement>('#volume, #weights, .settings input')) el.disabled = b;
  refreshRunButton();
}

// ---------------------------------------------------------------------------------------------------------------
// Files.

function extOf(name: string): string {
  const lower = name.toLowerCase();
  return EXTENSIONS.find((e) => lower.endsWith(e)) ?? '';
}

function stemOf(name: string): string {
  const ext = extOf(name);
  return ext ? name.slice(0, name.length - ext.length) : name.replace(/\.[^.]*$/, '');
}

async function bytesOf(f: File): Promise<Uint8Array> {
  try {
    return new Uint8Array(await f.arrayBuffer());
  } catch (e) {
    throw new VesselError(`${f.name}: the browser could not read the file (${oneLine(e)})`);
  }
}

/** Decode the chosen image file(s): one image, or a MetaImage .mhd with its data file. */
async function readImage(files: File[]): Promise<LoadedImage> {
  const images = files.filter((f) => formatOf(f.name) !== null);
  if (images.length === 0) {
    throw new VesselError(`${files.map((f) => f.name).join(', ')}: not an image type this page reads (${IMAGE_TYPES})`);
  }
  if (images.length > 1) throw new VesselError(`choose one image at a time (got ${images.map((f) => f.name).join(', ')})`);
  const file = images[0];
  const format = formatOf(file.name)!;
  const bytes = await bytesOf(file);
  if (bytes.length === 0) throw new VesselError(`${file.name}: the file is empty`);
  let dataFile: Uint8Array | undefined;
  if (format === 'metaimage') {
    const h = readMetaHeader(bytes, file.name);
    if (h.dataOffset < 0) {
      const want = h.dataFile.split(/[\\/]/).pop() ?? h.dataFile;
      const companion = files.find((f) => f !== file && f.name === want);
      if (!companion) throw new VesselError(`${file.name}: its voxels are in '${h.dataFile}'; choose both files together (or use a single-file .mha)`);
      dataFile = await bytesOf(companion);
    }
  }
  const vol = decodeVolume(bytes, format, file.name, { dataFile });
  const mips = [0, 1, 2].map((a) => mip(vol.data, vol.shape, a as 0 | 1 | 2)) as [ImageF, ImageF, ImageF];
  return { vol, name: file.name, format, mips };
}

/** A checkpoint's tensors by PyTorch key: torch.save's zip (.pt/.pth/.ckpt) or safetensors, told apart by content. */
function parseWeights(bytes: Uint8Array, name: string): Map<string, TensorRecord> {
  if (bytes.length === 0) throw new VesselError(`${name}: the file is empty`);
  if (isZip(bytes)) return stateDict(readTorch(bytes, name), name).tensors;
  // safetensors: an 8-byte little-endian header length, then a JSON object.
  const headerLen = bytes.length >= 9 ? new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0, true) : 0;
  if (/\.safetensors$/i.test(name) || (headerLen > 1 && bytes[8] === 0x7b)) return readSafetensors(bytes, name).tensors;
  if (bytes[0] === 0x80) {
    throw new VesselError(`${name}: a PyTorch checkpoint in the old (pre-1.6) format; re-save it with torch.save in a current PyTorch`);
  }
  throw new VesselError(`${name}: not a model checkpoint (expected a PyTorch .pt zip as torch.save writes it, or .safetensors)`);
}

async function loadWeights(e: Engine, f: File): Promise<LoadedWeights> {
  const key = `${f.name}|${f.size}|${f.lastModified}`;
  if (weights && weights.key === key) return weights;
  weights?.net.dispose();
  weights = null;
  const tensors = parseWeights(await bytesOf(f), f.name);
  let net: DynUNet;
  try {
    net = buildSegmenter(e, tensors);
  } catch (err) {
    if (err instanceof VesselError) throw new VesselError(`${f.name}: not vesselFM (DynUNet) weights: ${err.message}`);
    throw err;
  }
  weights = { key, name: f.name, net };
  return weights;
}

// ---------------------------------------------------------------------------------------------------------------
// Projections.

const AXIS_NAMES = ['z', 'y', 'x'];
const VIEW_NAMES: Record<string, string> = { R: 'sagittal', L: 'sagittal', A: 'coronal', P: 'coronal', S: 'axial', I: 'axial' };

function caption(vol: Volume, format: VolumeFormat, axis: number): string {
  const [nz, ny, nx] = vol.shape;
  const size = axis === 0 ? `${ny}×${nx}` : axis === 1 ? `${nz}×${nx}` : `${nz}×${ny}`;
  // Only formats with a real orientation get an anatomical name (TIFF and NumPy carry none).
  let view = '';
  if (format === 'nifti' || format === 'metaimage') {
    const code = axisCodes(vol.direction); // letters for array axes x, y, z
    view = ` (${VIEW_NAMES[code[2 - axis]]})`;
  }
  return `Projection along ${AXIS_NAMES[axis]}${view}, ${size} voxels`;
}

function displayRange(img: ImageF): [number, number] {
  const finite = img.data.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return [0, 1];
  const [lo, hi] = percentiles(finite, [0.5, 99.5]);
  return hi > lo ? [lo, hi] : [Math.min(...finite), Math.max(...finite)];
}

function paint(canvas: HTMLCanvasElement, img: Image8, pixelW: number, pixelH: number): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const rgba = new ImageData(img.width, img.height);
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) rgba.data[4 * i + k] = img.channels === 1 ? img.data[i] : img.data[img.channels * i + k];
    rgba.data[4 * i + 3] = 255;
  }
  ctx.putImageData(rgba, 0, 0);
  // On screen: physical aspect ratio (voxel spacing), scaled to fit about 330 × 330 CSS pixels.
  const w = img.width * pixelW;
  const h = img.height * pixelH;
  const scale = Math.min(330 / w, 330 / h);
  canvas.style.width = `${Math.max(1, Math.round(w * scale))}px`;
  canvas.style.height = `${Math.max(1, Math.round(h * scale))}px`;
}

function render(): void {
  if (!image) return;
  const { vol, mips, format } = image;
  const [sz, sy, sx] = vol.spacing.map((s) => (s > 0 && Number.isFinite(s) ? s : 1));
  for (let a = 0; a < 3; a++) {
    const mode = result ? ui.viewMode.value : 'image';
    let shown: Image8;
    if (mode === 'mask' && result) shown = toGrey8(result.maskMips[a], [0, 1]);
    else {
      const grey = toGrey8(mips[a], displayRange(mips[a]));
      shown = mode === 'overlay' && result ? overlay(grey, null, result.maskMips[a], { predictionThreshold: 0.5, alpha: 0.55 }) : grey;
    }
    const [pw, ph] = a === 0 ? [sx, sy] : a === 1 ? [sx, sz] : [sy, sz];
    paint($<HTMLCanvasElement>(`view-${a}`), shown, pw, ph);
    $<HTMLElement>(`caption-${a}`).textContent = caption(vol, format, a);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Settings.

function numberFrom(input: HTMLInputElement, what: string, ok: (x: number) => boolean, rule: string): number {
  const raw = input.value.trim();
  const x = Number(raw);
  if (raw === '' || !Number.isFinite(x) || !ok(x)) throw new VesselError(`${what} must be ${rule}, got "${input.value}"`);
  return x;
}

interface Settings {
  patch: number;
  overlap: number;
  threshold: number;
  minSize: number;
  tta: boolean;
  normalize: boolean;
  probabilities: boolean;
  precision: 'f32' | 'mixed';
}

function readSettings(divisor: number): Settings {
  const patch = numberFrom(ui.patch, 'Window size', (x) => Number.isInteger(x) && x > 0, 'a positive whole number');
  if (patch % divisor !== 0) {
    throw new VesselError(`Window size ${patch} must be a multiple of ${divisor} for this model (it halves the image ${Math.log2(divisor)} times)`);
  }
  return {
    patch,
    overlap: numberFrom(ui.overlap, 'Window overlap', (x) => x >= 0 && x < 1, 'at least 0 and below 1'),
    threshold: numberFrom(ui.threshold, 'Threshold', (x) => x >= 0 && x <= 1, 'between 0 and 1'),
    minSize: numberFrom(ui.minSize, 'Minimum piece size', (x) => Number.isInteger(x) && x >= 0, 'a whole number, 0 or more'),
    tta: ui.tta.checked,
    normalize: ui.normalize.checked,
    probabilities: ui.wantProb.checked,
    precision: ui.half.checked && !ui.half.disabled ? 'mixed' : 'f32',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Actions.

function forgetResult(): void {
  result = null;
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  ui.downloads.hidden = true;
  ui.downloadProb.hidden = true;
}

function describeImage(img: LoadedImage): string {
  const v = img.vol;
  const sp = v.spacing.map((s) => +s.toPrecision(4)).join(' × ');
  const mb = (v.data.byteLength / 2 ** 20).toFixed(v.data.byteLength < 2 ** 20 ? 2 : 0);
  return `${img.name}: ${v.shape.join(' × ')} voxels (z, y, x), ${v.dtype}, spacing ${sp}, ${mb} MiB`;
}

async function onVolumeChosen(): Promise<void> {
  const files = [...(ui.volume.files ?? [])];
  clearError();
  forgetResult();
  image = null;
  ui.volumeInfo.textContent = '';
  refreshRunButton();
  if (files.length === 0) return;
  setBusy(true);
  setState('loading', 'Reading the image…');
  try {
    image = await readImage(files);
    ui.volumeInfo.textContent = describeImage(image);
    ui.summary.textContent = 'Maximum-intensity projections of the image. Press “Segment” to find its vessels.';
    render();
    setReady('Ready.');
  } catch (e) {
    image = null;
    showError(e);
  } finally {
    setBusy(false);
  }
}

function onWeightsChosen(): void {
  clearError();
  weightsFile = ui.weights.files?.[0] ?? null;
  ui.weightsInfo.textContent = weightsFile ? `${weightsFile.name}: ${(weightsFile.size / 2 ** 20).toFixed(1)} MiB (read when you press “Segment”)` : '';
  if (ui.status.dataset.state === 'error') setReady('Ready.');
  refreshRunButton();
}

function download(a: HTMLAnchorElement, bytes: Uint8Array, name: string): void {
  const view = new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength); // never shared memory here
  const url = URL.createObjectURL(new Blob([view], { type: 'application/octet-stream' }));
  urls.push(url);
  a.href = url;
  a.download = name;
  a.hidden = false;
}

/** The output's file name and format: the input's, with `_pred` / `_prob` (a .mhd pair becomes one .mha). */
function outputName(img: LoadedImage, suffix: string): { name: string; gzip: boolean } {
  let ext = extOf(img.name) || '.nii.gz';
  if (ext.toLowerCase() === '.mhd') ext = '.mha';
  return { name: `${stemOf(img.name)}_${suffix}${ext}`, gzip: ext.toLowerCase().endsWith('.gz') };
}

function fmtSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

async function onRun(): Promise<void> {
  if (busy || !engine || !image || !weightsFile) return;
  const img = image;
  const e = engine;
  clearError();
  forgetResult();
  render();
  setBusy(true);
  stopRequested = false;
  try {
    setState('loading', `Reading the weights (${weightsFile.name})…`);
    const w = await loadWeights(e, weightsFile);
    const f = w.net.config.filters;
    ui.weightsInfo.textContent = `${w.name}: DynUNet, ${f.length} levels, filters ${f.join('-')}`;
    ui.patch.step = String(w.net.divisor);
    ui.patch.min = String(w.net.divisor);
    const s = readSettings(w.net.divisor);
    // The largest activation of one window (a decoder level's concatenation) must fit one GPU buffer.
    const need = Math.max(...f.map((c, i) => (2 * c * s.patch ** 3 * 4) / 8 ** i));
    if (need > e.rt.maxBinding) {
      let fits = s.patch;
      while (fits > w.net.divisor && Math.max(...f.map((c, i) => (2 * c * fits ** 3 * 4) / 8 ** i)) > e.rt.maxBinding) fits -= w.net.divisor;
      throw new VesselError(
        `Window size ${s.patch} needs ${(need / 2 ** 20).toFixed(0)} MiB GPU buffers and this GPU allows ${(e.rt.maxBinding / 2 ** 20).toFixed(0)} MiB; use ${fits} or less`,
      );
    }

    setState('running', 'Segmenting…');
    ui.progress.hidden = false;
    ui.progress.value = 0;
    ui.stop.hidden = false;
    ui.stop.disabled = false;
    const t0 = performance.now();
    const res = await segment(e, img.vol, {
      weights: w.net,
      patch: s.patch,
      overlap: s.overlap,
      threshold: s.threshold,
      tta: s.tta,
      minSize: s.minSize,
      normalize: s.normalize,
      probabilities: s.probabilities,
      precision: s.precision,
      onProgress: (done, total) => {
        if (stopRequested) throw new Stopped();
        ui.progress.max = total;
        ui.progress.value = done;
        const el = (performance.now() - t0) / 1000;
        const left = done > 0 && done < total ? `, about ${fmtSeconds((el / done) * (total - done))} left` : '';
        ui.status.textContent = `Segmenting: window ${done} of ${total}${left}`;
      },
    });
    ui.stop.hidden = true;

    setState('running', 'Saving…');
    const mask = encodeVolume(res.mask, img.format, { gzip: outputName(img, 'pred').gzip, array: img.vol.source?.array }, img.vol);
    download(ui.downloadMask, mask.bytes, outputName(img, 'pred').name);
    if (res.probabilities) {
      const p = encodeVolume(res.probabilities, img.format, { gzip: outputName(img, 'prob').gzip, array: img.vol.source?.array }, img.vol);
      download(ui.downloadProb, p.bytes, outputName(img, 'prob').name);
    }
    ui.downloads.hidden = false;
    result = {
      res,
      maskMips: [0, 1, 2].map((a) => mip(res.mask.data, res.mask.shape, a as 0 | 1 | 2)) as [ImageF, ImageF, ImageF],
    };
    render();

    const st = res.stats;
    const pct = 100 * st.vesselFraction;
    ui.summary.textContent =
      `Vessels: ${pct.toFixed(pct > 0 && pct < 0.01 ? 4 : 2)} % of the image (${st.vesselVoxels.toLocaleString('en-US')} of ` +
      `${st.voxels.toLocaleString('en-US')} voxels). ${st.windows} window${st.windows === 1 ? '' : 's'} of ${st.patch.join('×')}` +
      `${st.tta ? ' (with mirroring)' : ''}${st.precision === 'mixed' ? ' in half precision' : ''} in ${fmtSeconds(st.seconds)}.`;
    ui.progress.hidden = true;
    setState('done', `Done in ${fmtSeconds((performance.now() - t0) / 1000)}.`);
  } catch (err) {
    if (err instanceof Stopped) {
      ui.progress.hidden = true;
      setReady('Stopped; nothing was saved.');
    } else showError(err);
  } finally {
    ui.stop.hidden = true;
    setBusy(false);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Start.

async function start(): Promise<void> {
  ui.volume.addEventListener('change', () => void onVolumeChosen());
  ui.weights.addEventListener('change', onWeightsChosen);
  ui.run.addEventListener('click', () => void onRun());
  ui.stop.addEventListener('click', () => {
    stopRequested = true;
    ui.stop.disabled = true;
    ui.status.textContent = 'Stopping after the windows under way…';
  });
  ui.viewMode.addEventListener('change', render);
  window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));
  try {
    engine = await createEngine();
  } catch (e) {
    gpuProblem = oneLine(e);
    ui.gpu.textContent = 'WebGPU is not available in this browser, so the page cannot segment (it can still show images).';
    ui.error.textContent = gpuProblem;
    setReady('');
    return;
  }
  const g = engine.gpu;
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  ui.gpu.innerHTML = '';
  const b = document.createElement('b');
  b.textContent = `GPU: ${describeAdapter(g.info)}`;
  ui.gpu.append(
    b,
    ` · half-precision shaders (shader-f16): ${yes(g.hasF16)} · subgroups: ${yes(g.hasSubgroups)} · largest buffer ${(g.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`,
  );
  ui.gpu.dataset.f16 = String(g.hasF16);
  // Half precision needs shader-f16; without it the box stays disabled and says why.
  ui.half.disabled = !g.hasF16;
  if (!g.hasF16) $<HTMLSpanElement>('half-hint').textContent = 'Not available: this GPU (or browser) has no shader-f16.';
  ui.gpu.dataset.subgroups = String(g.hasSubgroups);
  engine.device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    engine = null;
    weights = null; // its buffers went with the device
    gpuProblem = oneLine(new VesselError(`The GPU device was lost (${info.message || info.reason}); reload the page to start again`));
    showError(new VesselError(gpuProblem));
    refreshRunButton();
  });
  setReady(image ? 'Ready.' : 'Choose an image and model weights.');
  refreshRunButton();
}

void start();
