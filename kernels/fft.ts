// fft: batched 1D FFTs along any axis of a complex volume, and the 3D FFT built from them, in WGSL.
//
// A complex tensor is f32 with a trailing dimension of 2 (interleaved re, im): shape [...dims, 2]. Transforms run
// over chosen axes of `dims` (default: the last three, i.e. D, H, W). Forward is unscaled, inverse is scaled by 1/N
// per axis (numpy's "backward" normalisation), so ifft(fft(x)) = x.
//
// Per axis of length N:
//   - N a power of two and ≤ the workgroup-memory limit (2048 complex f32 = 16 KiB): one dispatch, each workgroup
//     loads whole lines into workgroup memory and runs all Stockham stages there (shaders/fft.wgsl);
//   - N a longer power of two: one global Stockham pass per stage, ping-ponging with a scratch buffer
//     (shaders/fft_global.wgsl), radix 4 with one radix-2 stage when log2 N is odd;
//   - N whose prime factors are all ≤ 7 (e.g. 48, 96, 100, 81, 35): mixed-radix Stockham, one global pass per
//     factor (radix 4, 2, and a generic radix-3/5/7 stage);
//   - any other N: Bluestein's chirp-z algorithm via a power-of-two FFT of length M ≥ 2N − 1
//     (shaders/fft_bluestein.wgsl), with FFT(chirp) precomputed in float64.
// Twiddles come from float64 tables (one per length, cached per engine), not from f32 sin/cos in the shader.
import source from '../shaders/fft.wgsl';
import globalSource from '../shaders/fft_global.wgsl';
import bluesteinSource from '../shaders/fft_bluestein.wgsl';
import utilSource from '../shaders/fft_util.wgsl';
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';
import { params, type Binding } from '../src/runtime/runtime.js';
import { fmtShape, sizeOf } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { isCpuAdapter } from './matmul.js';
import { grid1D } from './util.js';

const WG = 64;
/** Longest line done in workgroup memory (2048 complex f32 = 16 KiB, the portable limit). */
export const MAX_LOCAL_N = 2048;

export interface FftOptions {
  /** Inverse transform (scaled by 1/N per axis). */
  inverse?: boolean;
  /** Axes of the complex dims (shape without the trailing 2) to transform; default the last three. */
  axes?: number[];
  /**
   * Longest power-of-two line done in workgroup memory. Default: 2048 (16 KiB) on GPUs; 1 (global passes only) on CPU
   * adapters such as lavapipe, where workgroup barriers are expensive and the global passes measured about 3× faster
   * (64³ complex forward: 56 vs 185 ms).
   */
  maxLocal?: number;
  /** Use Bluestein for every length that is not a power of two, even when mixed radix applies (for tests). */
  bluestein?: boolean;
}

/** Radices (4s first, then 2, 3, 5, 7) whose product is n, or null when n has a prime factor above 7. */
export function mixedRadices(n: number): number[] | null {
  const out: number[] = [];
  let m = n;
  while (m % 4 === 0) (out.push(4), (m /= 4));
  for (const r of [2, 3, 5, 7]) while (m % r === 0) (out.push(r), (m /= r));
  return m === 1 ? out : null;
}

export function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function nextPow2(n: number): number {
  let m = 1;
  while (m < n) m *= 2;
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// Float64 CPU FFT (iterative radix-2), used for the Bluestein tables and available to references.

/** In-place float64 FFT of a power-of-two length; `inverse` uses exp(+i…) and scales by 1/N. */
export function fftCpuPow2(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (!isPow2(n)) throw new VesselError(`fftCpuPow2: length ${n} is not a power of two`);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= n; len *= 2) {
    const half = len / 2;
    for (let k = 0; k < half; k++) {
      const a = (sign * 2 * Math.PI * k) / len;
      const wr = Math.cos(a);
      const wi = Math.sin(a);
      for (let s = 0; s < n; s += len) {
        const u = s + k;
        const v = u + half;
        const tr = re[v] * wr - im[v] * wi;
        const ti = re[v] * wi + im[v] * wr;
        re[v] = re[u] - tr;
        im[v] = im[u] - ti;
        re[u] += tr;
        im[u] += ti;
      }
    }
  }
  if (inverse) for (let i = 0; i < n; i++) (re[i] /= n), (im[i] /= n);
}

// ---------------------------------------------------------------------------------------------------------------
// Tables, cached per engine.

interface Tables {
  twiddle: Map<number, Tensor>;
  bluestein: Map<string, { chirp: Tensor; spectrum: Tensor; m: number }>;
}
const tables = new WeakMap<Engine, Tables>();

function tablesOf(e: Engine): Tables {
  let t = tables.get(e);
  if (!t) tables.set(e, (t = { twiddle: new Map(), bluestein: new Map() }));
  return t;
}

/** (cos, sin)(2π q / N) for q < N. */
function twiddleTable(e: Engine, n: number): Tensor {
  const t = tablesOf(e);
  let tab = t.twiddle.get(n);
  if (!tab) {
    const d = new Float32Array(2 * n);
    for (let q = 0; q < n; q++) {
      const a = (2 * Math.PI * q) / n;
      d[2 * q] = Math.cos(a);
      d[2 * q + 1] = Math.sin(a);
    }
    tab = e.keep(e.tensor(d, [n, 2]));
    t.twiddle.set(n, tab);
  }
  return tab;
}

function bluesteinTables(e: Engine, n: number, sign: number): { chirp: Tensor; spectrum: Tensor; m: number } {
  const t = tablesOf(e);
  const key = `${n}:${sign}`;
  let b = t.bluestein.get(key);
  if (!b) {
    const m = nextPow2(2 * n - 1);
    const chirp = new Float32Array(2 * n);
    const re = new Float64Array(m);
    const im = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      // n² mod 2N keeps the angle small and exact.
      const a = (sign * Math.PI * ((k * k) % (2 * n))) / n;
      const c = Math.cos(a);
      const s = Math.sin(a);
      chirp[2 * k] = c;
      chirp[2 * k + 1] = s;
      re[k] = c;
      im[k] = -s;
      if (k > 0) {
        re[m - k] = c;
        im[m - k] = -s;
      }
    }
    fftCpuPow2(re, im, false);
    const spec = new Float32Array(2 * m);
    for (let i = 0; i < m; i++) {
      spec[2 * i] = re[i];
      spec[2 * i + 1] = im[i];
    }
    b = { chirp: e.keep(e.tensor(chirp, [n, 2])), spectrum: e.keep(e.tensor(spec, [m, 2])), m };
    t.bluestein.set(key, b);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// Passes over raw buffers.

interface Line {
  lines: number;
  n: number;
  inner: number;
}

function localPlan(n: number, lines: number): { L: number; E: number; wg: number; per: number } {
  let L = Math.max(1, Math.floor(1024 / n));
  L = Math.min(L, nextPow2(lines));
  L = Math.max(L, Math.ceil(4 / n));
  const E = n * L;
  const wg = Math.min(256, E / 4);
  return { L, E, wg, per: E / 4 / wg };
}

/** In place: FFT of power-of-two length n ≤ maxLocal along lines of `data`, in workgroup memory. */
function localPass(e: Engine, data: Binding, g: Line, sign: number, scale: number): void {
  const { L, E, wg, per } = localPlan(g.n, g.lines);
  const log2 = Math.log2(g.n);
  const k = e.rt.kernel('fft', source, { N: g.n, L, E, WG: wg, PER: per, N4: Math.max(1, g.n / 4), REGS: 4 * per, RADIX2: log2 % 2 === 1 });
  const tw = twiddleTable(e, g.n);
  e.rt.dispatch(k, [data, tw.binding()], params().u32(g.lines).u32(g.inner).f32(sign).f32(scale), grid1D(g.lines, L));
}

/**
 * In place (through a scratch buffer): FFT along lines of `data` with one global Stockham pass per radix of
 * `radices` (product = n).
 */
function globalPasses(e: Engine, data: Binding, bytes: number, g: Line, sign: number, scale: number, radices: number[]): void {
  const tw = twiddleTable(e, g.n);
  const scratch = e.empty([bytes / 4]);
  const bufs: Binding[] = [data, scratch.binding()];
  let ns = 1;
  radices.forEach((r, i) => {
    const k = e.rt.kernel('fft_global', globalSource, { WG, R: r, RADIX4: r === 4, GENERIC: r !== 2 && r !== 4 });
    const last = i === radices.length - 1;
    e.rt.dispatch(
      k,
      [bufs[i % 2], bufs[(i + 1) % 2], tw.binding()],
      params().u32(g.lines).u32(g.inner).u32(g.n).u32(ns).f32(sign).f32(last ? scale : 1),
      grid1D((g.lines * g.n) / r, WG),
    );
    ns *= r;
  });
  if (radices.length % 2 === 1) e.rt.copy(scratch.buffer, 0, data.buffer, data.offset ?? 0, bytes);
  scratch.dispose();
}

/** Radix-2 first (when log2 n is odd), then radix 4: the global-pass plan of a power of two. */
function pow2Radices(n: number): number[] {
  const log2 = Math.log2(n);
  return [...(log2 % 2 === 1 ? [2] : []), ...Array<number>(Math.floor(log2 / 2)).fill(4)];
}

function pow2Pass(e: Engine, data: Binding, bytes: number, g: Line, sign: number, scale: number, maxLocal: number): void {
  if (g.n <= maxLocal) localPass(e, data, g, sign, scale);
  else globalPasses(e, data, bytes, g, sign, scale, pow2Radices(g.n));
}

function bluesteinPass(e: Engine, data: Binding, g: Line, sign: number, scale: number, maxLocal: number): void {
  const { chirp, spectrum, m } = bluesteinTables(e, g.n, sign);
  const work = e.empty([g.lines * m * 2]);
  const wb = work.binding();
  const kPre = e.rt.kernel('fft_bluestein', bluesteinSource, { WG, STEP_PRE: true, STEP_MUL: false });
  const kMul = e.rt.kernel('fft_bluestein', bluesteinSource, { WG, STEP_PRE: false, STEP_MUL: true });
  const kPost = e.rt.kernel('fft_bluestein', bluesteinSource, { WG, STEP_PRE: false, STEP_MUL: false });
  const u = (s: number) => params().u32(g.lines).u32(g.inner).u32(g.n).u32(m).f32(s);
  e.rt.dispatch(kPre, [data, wb, chirp.binding()], u(1), grid1D(g.lines * m, WG));
  const conv: Line = { lines: g.lines, n: m, inner: 1 };
  pow2Pass(e, wb, g.lines * m * 8, conv, -1, 1, maxLocal);
  e.rt.dispatch(kMul, [wb, spectrum.binding()], u(1), grid1D(g.lines * m, WG));
  pow2Pass(e, wb, g.lines * m * 8, conv, 1, 1 / m, maxLocal);
  e.rt.dispatch(kPost, [data, wb, chirp.binding()], u(scale), grid1D(g.lines * g.n, WG));
  work.dispose();
}

function complexDims(x: Tensor, what: string): number[] {
  if (x.dtype !== 'f32' || x.rank < 2 || x.shape[x.rank - 1] !== 2) {
    throw new VesselError(`${what}: expected a complex f32 tensor of shape [..., 2], got ${fmtShape(x.shape)} ${x.dtype}`);
  }
  if (!x.fitsBinding) throw new VesselError(`${what}: tensor ${fmtShape(x.shape)} is larger than one storage binding on this adapter`);
  return x.shape.slice(0, -1);
}

function resolveAxes(dims: number[], axes: number[] | undefined, what: string): number[] {
  const r = dims.length;
  const list = axes ?? Array.from({ length: Math.min(3, r) }, (_, i) => r - Math.min(3, r) + i);
  return list.map((a) => {
    const b = a < 0 ? a + r : a;
    if (!Number.isInteger(b) || b < 0 || b >= r) throw new VesselError(`${what}: axis ${a} out of range for dims ${fmtShape(dims)}`);
    return b;
  });
}

/**
 * Transform complex tensor `x` in place along the given axes (see FftOptions). Records GPU work only; returns x.
 */
export function fftInPlace(x: Tensor, opts: FftOptions = {}): Tensor {
  const dims = complexDims(x, opts.inverse ? 'ifft' : 'fft');
  const axes = resolveAxes(dims, opts.axes, 'fft');
  const preferred = opts.maxLocal ?? (isCpuAdapter(x.engine.gpu) ? 1 : MAX_LOCAL_N);
  const maxLocal = Math.min(preferred, MAX_LOCAL_N, Math.floor((x.engine.rt.limits.maxComputeWorkgroupStorageSize ?? 16384) / 8));
  const sign = opts.inverse ? 1 : -1;
  const e = x.engine;
  const data = x.binding();
  for (const a of axes) {
    const n = dims[a];
    if (n <= 1) continue;
    const inner = sizeOf(dims.slice(a + 1));
    const g: Line = { lines: sizeOf(dims) / n, n, inner };
    const scale = opts.inverse ? 1 / n : 1;
    const mixed = opts.bluestein ? null : mixedRadices(n);
    if (isPow2(n)) pow2Pass(e, data, x.size * 4, g, sign, scale, maxLocal);
    else if (mixed) globalPasses(e, data, x.size * 4, g, sign, scale, mixed);
    else bluesteinPass(e, data, g, sign, scale, maxLocal);
  }
  return x;
}

/** Forward FFT of a complex tensor [..., 2] over `axes` (default the last three dims): a new tensor. */
export function fft(x: Tensor, opts: FftOptions = {}): Tensor {
  complexDims(x, opts.inverse ? 'ifft' : 'fft');
  const out = x.engine.empty(x.shape);
  x.engine.rt.copy(x.buffer, 0, out.buffer, 0, x.size * 4);
  return fftInPlace(out, opts);
}

/** Inverse FFT (scaled by 1/N per axis): a new tensor. */
export function ifft(x: Tensor, opts: Omit<FftOptions, 'inverse'> = {}): Tensor {
  return fft(x, { ...opts, inverse: true });
}

/** Forward FFT of a real f32 tensor: a new complex tensor of shape [...x.shape, 2]. */
export function fftReal(x: Tensor, opts: Omit<FftOptions, 'inverse'> = {}): Tensor {
  return fftInPlace(toComplex(x), opts);
}

// ---------------------------------------------------------------------------------------------------------------
// Element-wise helpers.

function utilKernel(e: Engine, v: { SHIFT?: boolean; COMPLEX?: boolean; TO_COMPLEX?: boolean; MAG?: boolean }) {
  return e.rt.kernel('fft_util', utilSource, {
    WG: 256,
    SHIFT: !!v.SHIFT,
    COMPLEX: !!v.COMPLEX,
    TO_COMPLEX: !!v.TO_COMPLEX,
    MAG: !!v.MAG,
  });
}

function checkReal(x: Tensor, what: string): void {
  if (x.dtype !== 'f32') throw new VesselError(`${what}: expected an f32 tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
  if (!x.fitsBinding) throw new VesselError(`${what}: tensor ${fmtShape(x.shape)} is larger than one storage binding on this adapter`);
}

/** The util kernel's uniform block with only the element count set. */
function shapeParams(n: number) {
  return params().u32(n).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0);
}

/** A real f32 tensor as a complex one (imaginary part 0): shape [...x.shape, 2]. */
export function toComplex(x: Tensor): Tensor {
  checkReal(x, 'toComplex');
  const e = x.engine;
  const out = e.empty([...x.shape, 2]);
  e.rt.dispatch(utilKernel(e, { TO_COMPLEX: true }), [x.binding(), out.binding()], shapeParams(x.size), grid1D(x.size, 256));
  return out;
}

function complexToReal(x: Tensor, mag: boolean): Tensor {
  const dims = complexDims(x, mag ? 'magnitude' : 'realPart');
  const e = x.engine;
  const out = e.empty(dims);
  e.rt.dispatch(utilKernel(e, { MAG: mag }), [x.binding(), out.binding()], shapeParams(out.size), grid1D(out.size, 256));
  return out;
}

/** Re(x) of a complex tensor: f32 of shape x.shape[:-1]. */
export function realPart(x: Tensor): Tensor {
  return complexToReal(x, false);
}

/** |x| of a complex tensor: f32 of shape x.shape[:-1]. */
export function magnitude(x: Tensor): Tensor {
  return complexToReal(x, true);
}

export interface ShiftOptions {
  /** The tensor is complex [..., 2] (shifted over the dims before the trailing 2); default false (real f32). */
  complex?: boolean;
  /** ifftshift instead of fftshift. */
  inverse?: boolean;
}

/**
 * numpy fftshift (or ifftshift) over the last three spatial dims (fewer when the tensor has fewer), as a new tensor;
 * leading dims are batch. fftshift: out[i] = in[(i + ceil(n/2)) mod n]; ifftshift: out[i] = in[(i + floor(n/2)) mod n].
 */
export function fftshift(x: Tensor, opts: ShiftOptions = {}): Tensor {
  const complex = opts.complex ?? false;
  const dims = complex ? complexDims(x, 'fftshift') : (checkReal(x, 'fftshift'), [...x.shape]);
  const sp = dims.slice(-3);
  while (sp.length < 3) sp.unshift(1);
  const [d, h, w] = sp;
  const s = (n: number) => (opts.inverse ? Math.floor(n / 2) : Math.ceil(n / 2)) % Math.max(n, 1);
  const e = x.engine;
  const out = e.empty(x.shape);
  const n = sizeOf(dims);
  e.rt.dispatch(
    utilKernel(e, { SHIFT: true, COMPLEX: complex }),
    [x.binding(), out.binding()],
    params().u32(n).u32(d).u32(h).u32(w).u32(s(d)).u32(s(h)).u32(s(w)),
    grid1D(n, 256),
  );
  return out;
}

/** numpy ifftshift over the last three spatial dims: a new tensor. */
export function ifftshift(x: Tensor, opts: Omit<ShiftOptions, 'inverse'> = {}): Tensor {
  return fftshift(x, { ...opts, inverse: true });
}

/** Floating-point operations of one complex FFT over `dims` by the usual 5 N log2 N count (per axis, summed). */
export function fftFlops(dims: number[], axes?: number[]): number {
  const total = sizeOf(dims);
  const list = resolveAxes(dims, axes, 'fftFlops');
  let f = 0;
  for (const a of list) if (dims[a] > 1) f += 5 * total * Math.log2(dims[a]);
  return f;
}
