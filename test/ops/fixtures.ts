// The PyTorch reference fixtures (../shared/fixtures/torch/ops.npz): float64 arrays by `<case>.<array>` name.
import { resolve } from 'node:path';
import { readNpzFile } from '../../src/io/files.js';
import { npyToFloat64, type NpyArray } from '../../src/io/npy.js';

let ops: Map<string, NpyArray> | null = null;

export const OPS_NPZ = resolve(process.cwd(), '../shared/fixtures/torch/ops.npz');

export function fixture(name: string): { data: Float64Array; shape: number[] } {
  ops ??= readNpzFile(OPS_NPZ);
  const a = ops.get(name);
  if (!a) throw new Error(`ops.npz has no array ${name}`);
  return { data: npyToFloat64(a), shape: a.shape };
}

export function fixtureScalar(name: string): number {
  return fixture(name).data[0];
}
