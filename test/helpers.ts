// Shared test helpers: one engine per test file, seeded random data, float64 comparisons.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createEngine } from '../src/node.js';
import type { Engine } from '../src/engine.js';

let engine: Engine | null = null;

export async function getEngine(): Promise<Engine> {
  engine ??= await createEngine();
  return engine;
}

/** Deterministic pseudo-random numbers (mulberry32) for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi) that are never exactly zero. */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = lo + (hi - lo) * r();
    if (v === 0) v = 1e-3;
    out[i] = v;
  }
  return out;
}

/** ‖a − b‖ / ‖b‖ (or ‖a − b‖ when b is all zeros); NaN anywhere gives Infinity. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    if (!Number.isFinite(a[i]) && a[i] !== b[i]) return Infinity;
    num += d * d;
    den += b[i] * b[i];
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Fill a tensor's storage with NaN words so that unwritten outputs fail comparisons. */
export function poison(t: import('../src/tensor/tensor.js').Tensor): void {
  t.engine.rt.write(t.buffer, 0, new Uint32Array(t.storage.bytes / 4).fill(0x7fc00000));
}

/**
 * Run `vesselfm <args>` in a child process from the repository root. stderr comes back without Dawn's adapter-limit
 * warnings (lines starting "Warning: "); everything else there is ours.
 */
export function vesselfmCli(args: string[], timeoutMs = 300_000): { code: number; out: string; err: string } {
  const root = process.cwd();
  const r = spawnSync(process.execPath, [join(root, 'bin/vesselfm.mjs'), ...args], { cwd: root, encoding: 'utf8', timeout: timeoutMs });
  const err = r.stderr
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('Warning: '))
    .join('\n');
  return { code: r.status ?? -1, out: r.stdout, err };
}
