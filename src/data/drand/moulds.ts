// Vessel moulds (spec §4.2): the binary vessel volumes that domain randomisation crops, transforms and paints.
// Two sources: real masks (arrays, e.g. read from a folder by moulds-node.ts) and procedural vessel trees drawn per
// sample (tree.ts), so that D_drand needs no external data at all. Platform-neutral: file access is elsewhere.
import type { Engine } from '../../engine.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Vec3 } from './params.js';
import { renderVesselTree, sampleVesselTree, type TreeOptions, type VesselTree } from './tree.js';
import type { ParamRng } from './params.js';

/** A real mould: 0/1 voxels, C order [z, y, x]. */
export interface MouldArray {
  name: string;
  shape: Vec3;
  data: Uint8Array;
}

/**
 * Check that `data` is a binary mask at least `minSize` voxels along every axis, and return it as 0/1 bytes.
 * Binary means every value is 0 or one other value (1, 255, true, …), and at least one voxel is set.
 */
export function checkMould(name: string, data: ArrayLike<number>, shape: readonly number[], minSize: number): MouldArray {
  if (shape.length !== 3) throw new VesselError(`mould ${name}: expected a 3D volume, got shape [${shape.join(', ')}]`);
  if (shape.some((s) => s < minSize)) {
    throw new VesselError(`mould ${name}: shape [${shape.join(', ')}] is smaller than the ${minSize}³ crop along an axis (each axis must be ≥ ${minSize})`);
  }
  const n = shape[0] * shape[1] * shape[2];
  if (data.length !== n) throw new VesselError(`mould ${name}: ${data.length} values for shape [${shape.join(', ')}]`);
  const out = new Uint8Array(n);
  let one: number | null = null;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v === 0) continue;
    if (one === null) {
      if (!Number.isFinite(v)) throw new VesselError(`mould ${name}: not binary (value ${v} at voxel ${i})`);
      one = v;
    } else if (v !== one) {
      throw new VesselError(`mould ${name}: not binary (values 0, ${one} and ${v}; a mould holds 0 and one other value)`);
    }
    out[i] = 1;
    count++;
  }
  if (count === 0) throw new VesselError(`mould ${name}: empty (no vessel voxel)`);
  return { name, shape: [shape[0], shape[1], shape[2]], data: out };
}

/** Where moulds come from: real arrays (loaded on demand) or procedural trees. */
export type MouldSource =
  | { kind: 'procedural'; tree?: TreeOptions }
  | { kind: 'arrays'; count: number; names: string[]; load: (i: number) => MouldArray };

/** A drawn mould for one sample: a procedural skeleton or the index of a real mould. */
export type MouldChoice = { kind: 'tree'; tree: VesselTree } | { kind: 'file'; index: number; name: string };

/**
 * Moulds for a generation run: draws a mould per sample and keeps real moulds on the GPU (u8) in an LRU cache of
 * bounded size, so a mould is uploaded once and cropped by the gather kernel.
 */
export class MouldBank {
  private cpu = new Map<number, MouldArray>();
  private cpuBytes = 0;
  private gpu = new Map<number, Tensor>();
  private gpuBytes = 0;

  constructor(
    readonly engine: Engine,
    readonly source: MouldSource,
    readonly size: number,
    readonly cacheBytes = 1 << 30,
  ) {
    if (source.kind === 'arrays' && source.count === 0) throw new VesselError('moulds: no mould files');
  }

  get procedural(): boolean {
    return this.source.kind === 'procedural';
  }

  /** Draw the mould of one sample (a tree skeleton, or a uniformly chosen real mould). */
  choose(rng: ParamRng): MouldChoice {
    if (this.source.kind === 'procedural') {
      return { kind: 'tree', tree: sampleVesselTree(rng, [this.size, this.size, this.size], this.source.tree) };
    }
    const index = rng.randint(0, this.source.count - 1);
    return { kind: 'file', index, name: this.source.names[index] };
  }

  /** The CPU array of real mould i (validated; cached). */
  array(i: number): MouldArray {
    if (this.source.kind !== 'arrays') throw new VesselError('moulds: procedural source has no arrays');
    let m = this.cpu.get(i);
    if (m) {
      this.cpu.delete(i);
      this.cpu.set(i, m);
      return m;
    }
    const raw = this.source.load(i);
    m = raw.shape.some((s) => s < this.size) ? checkMould(raw.name, raw.data, raw.shape, this.size) : raw;
    this.cpu.set(i, m);
    this.cpuBytes += m.data.length;
    for (const [k, v] of this.cpu) {
      if (this.cpuBytes <= this.cacheBytes || k === i) break;
      this.cpu.delete(k);
      this.cpuBytes -= v.data.length;
    }
    return m;
  }

  shapeOf(c: MouldChoice): Vec3 {
    return c.kind === 'tree' ? c.tree.shape : this.array(c.index).shape;
  }

  /**
   * The mould as a u8 GPU tensor [D, H, W]. Procedural moulds are rendered now and owned by the caller; real moulds
   * belong to the bank's cache (do not dispose them).
   */
  tensor(c: MouldChoice): { mould: Tensor; owned: boolean } {
    if (c.kind === 'tree') return { mould: renderVesselTree(this.engine, c.tree), owned: true };
    let t = this.gpu.get(c.index);
    if (t) {
      this.gpu.delete(c.index);
      this.gpu.set(c.index, t);
      return { mould: t, owned: false };
    }
    const m = this.array(c.index);
    t = this.engine.keep(this.engine.tensor(m.data, m.shape, 'u8'));
    if (!t.fitsBinding) throw new VesselError(`mould ${m.name}: [${m.shape.join(', ')}] is larger than one storage binding on this adapter`);
    this.gpu.set(c.index, t);
    this.gpuBytes += m.data.length;
    for (const [k, v] of this.gpu) {
      if (this.gpuBytes <= this.cacheBytes || k === c.index) break;
      this.gpu.delete(k);
      this.gpuBytes -= v.size;
      v.dispose();
    }
    return { mould: t, owned: false };
  }

  dispose(): void {
    for (const t of this.gpu.values()) t.dispose();
    this.gpu.clear();
    this.gpuBytes = 0;
    this.cpu.clear();
    this.cpuBytes = 0;
  }
}
