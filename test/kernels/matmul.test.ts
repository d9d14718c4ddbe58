import { afterAll, describe, expect, it } from 'vitest';
import {
  chooseVariant,
  clearMatmulTuning,
  forceMatmulVariant,
  isCpuAdapter,
  matmul,
  matmulInto,
  MATMUL_VARIANTS,
  shapeClass,
  tuneMatmul,
  usableVariants,
} from '../../kernels/matmul.js';
import { createEngine } from '../../src/node.js';
import { getEngine, poison, randArray, relErr } from '../helpers.js';

/** float64 reference: op(A)·op(B) for one batch each. */
function refMatmul(a: Float64Array, b: Float64Array, M: number, N: number, K: number, transA: boolean, transB: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[transA ? k * M + m : m * K + k] * b[transB ? n * K + k : k * N + n];
      c[m * N + n] = s;
    }
  }
  return c;
}

interface Case {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  batchA?: number[];
  batchB?: number[];
}

let seed = 1;

async function check(c: Case, variant?: string): Promise<number> {
  const e = await getEngine();
  const { M, N, K } = c;
  const transA = c.transA ?? false;
  const transB = c.transB ?? false;
  const bA = c.batchA ?? [];
  const bB = c.batchB ?? [];
  const nA = bA.reduce((x, y) => x * y, 1);
  const nB = bB.reduce((x, y) => x * y, 1);
  const batch = Math.max(nA, nB);
  const a = randArray(nA * M * K, seed++);
  const b = randArray(nB * K * N, seed++);
  const ta = e.tensor(a, [...bA, ...(transA ? [K, M] : [M, K])]);
  const tb = e.tensor(b, [...bB, ...(transB ? [N, K] : [K, N])]);
  const outBatch = bA.length >= bB.length ? (nA >= nB ? bA : bB) : nB >= nA ? bB : bA;
  const tc = e.empty([...outBatch, M, N]);
  poison(tc);
  matmulInto(tc, ta, tb, { transA, transB, variant });
  const got = await tc.read();
  const ref = new Float64Array(batch * M * N);
  for (let i = 0; i < batch; i++) {
    const ai = nA === 1 ? 0 : i;
    const bi = nB === 1 ? 0 : i;
    ref.set(
      refMatmul(a.subarray(ai * M * K, (ai + 1) * M * K), b.subarray(bi * K * N, (bi + 1) * K * N), M, N, K, transA, transB),
      i * M * N,
    );
  }
  ta.dispose();
  tb.dispose();
  tc.dispose();
  return relErr(got, ref);
}

// Each case below compiles its own pipeline per variant (transposes and vec4/scalar paths are specialisations),
// and pipelines cost seconds on lavapipe, so the cases are chosen to cover every path once:
// odd sizes take the scalar paths and every ragged edge; multiples of 4 take the vec4 paths.
const REG_CASES: Case[] = [
  { M: 1, N: 1, K: 1 },
  { M: 7, N: 5, K: 13 },
  { M: 33, N: 17, K: 65 },
  { M: 17, N: 23, K: 9, batchA: [3], batchB: [3] },
  { M: 20, N: 36, K: 28 }, // vec4 A, B, C
  { M: 33, N: 17, K: 65, transA: true }, // transposed A, scalar
  { M: 33, N: 17, K: 65, transB: true }, // transposed B, scalar
  { M: 12, N: 24, K: 40, transA: true, transB: true }, // both transposed, vec4
];
const TILED_CASES: Case[] = [
  { M: 7, N: 5, K: 13 },
  { M: 33, N: 17, K: 65 },
  { M: 17, N: 23, K: 9, batchA: [3], batchB: [3] },
  { M: 9, N: 6, K: 11, transA: true, transB: true },
];
const NAIVE_CASES: Case[] = [
  ...TILED_CASES,
  { M: 19, N: 12, K: 7, transA: true },
  { M: 8, N: 13, K: 12, transB: true },
];
// The larger register tiles run the same shader code with other constants: the ragged edges, a batch and both
// transposes suffice for them.
const REG_BIG_CASES: Case[] = [
  { M: 7, N: 5, K: 13 },
  { M: 17, N: 23, K: 9, batchA: [3], batchB: [3] },
  { M: 33, N: 17, K: 65, transA: true },
  { M: 12, N: 24, K: 40, transA: true, transB: true },
];
// sgb (subgroup-broadcast B): 128 rows × 32 columns per workgroup. Two specialisations (each takes seconds to
// compile on lavapipe): the benchmark's path (vec4 B and C) with several row and column blocks and ragged edges,
// plus a batch on the same pipeline; and both operands transposed (vec4 A, strided B, scalar C with a ragged N)
// with a broadcast batch. The scalar B path of an untransposed B runs in the binding-limit test below.
const SGB_CASES: Case[] = [
  { M: 133, N: 68, K: 29 },
  { M: 17, N: 20, K: 9, batchA: [3], batchB: [3] },
  { M: 20, N: 37, K: 12, transA: true, transB: true, batchA: [2], batchB: [] },
];
function casesFor(v: (typeof MATMUL_VARIANTS)[number]): Case[] {
  // Each variant's pipelines compile once per specialisation (seconds each on lavapipe): the first variant of a
  // kind runs every case, the others of that kind (same shader, other tile constants) fewer: ragged edges, a
  // batch and both transposes.
  const rank = MATMUL_VARIANTS.filter((x) => x.kind === v.kind).indexOf(v);
  if (v.kind === 'reg') return rank === 0 ? REG_CASES : rank === 1 ? REG_BIG_CASES : [REG_BIG_CASES[1], REG_BIG_CASES[3]];
  // The tiled kernels are the slowest to compile on lavapipe (tens of seconds each with a cold shader cache).
  if (v.kind === 'tiled') return rank === 0 ? TILED_CASES : [TILED_CASES[2]];
  if (v.kind === 'sgb') return SGB_CASES;
  return NAIVE_CASES;
}

describe('matmul', () => {
  afterAll(async () => {
    forceMatmulVariant(await getEngine(), null);
  });

  for (const v of MATMUL_VARIANTS) {
    it(`${v.name}: matches a float64 reference at odd and aligned sizes, batched, transposed`, async () => {
      const e = await getEngine();
      if (!usableVariants(e.gpu).includes(v)) return;
      for (const c of casesFor(v)) {
        const err = await check(c, v.name);
        expect(err, `${v.name} ${JSON.stringify(c)}`).toBeLessThan(1e-5);
      }
    });
  }

  it('forced variant applies to every call, and automatic choice is restored', async () => {
    const e = await getEngine();
    forceMatmulVariant(e, 'naive');
    expect(chooseVariant(e, 64, 64, 64).name).toBe('naive');
    expect(await check({ M: 6, N: 7, K: 5, transB: true })).toBeLessThan(1e-5);
    forceMatmulVariant(e, null);
    expect(chooseVariant(e, 64, 64, 64).name).not.toBe('naive');
    expect(() => forceMatmulVariant(e, 'nope')).toThrow(/Unknown matmul variant "nope"; known: .*naive/);
  });

  it('broadcasts a batch of one on either side', async () => {
    expect(await check({ M: 7, N: 6, K: 5, batchA: [4], batchB: [] })).toBeLessThan(1e-5);
    expect(await check({ M: 7, N: 6, K: 5, batchA: [1], batchB: [2, 3] })).toBeLessThan(1e-5);
    const e = await getEngine();
    const c = matmul(e.tensor(randArray(2 * 3 * 5, 9), [2, 3, 5]), e.tensor(randArray(5 * 7, 10), [5, 7]));
    expect(c.shape).toEqual([2, 3, 7]);
  });

  it('rejects shape and dtype mismatches with messages naming the shapes', async () => {
    const e = await getEngine();
    const a = e.zeros([3, 4]);
    const b = e.zeros([5, 6]);
    expect(() => matmul(a, b)).toThrow(/A \[3, 4\] · B \[5, 6\]: inner dimensions differ \(4 vs 5\)/);
    expect(() => matmul(a, e.zeros([4, 2], 'i32'))).toThrow(/f32 operands required, got f32 and i32/);
    expect(() => matmul(e.zeros([4]), b)).toThrow(/at least 2 dimensions/);
    expect(() => matmul(e.zeros([2, 3, 4]), e.zeros([3, 4, 5]))).toThrow(/batch dimensions \[2\] and \[3\] differ/);
    expect(() => matmulInto(e.zeros([3, 5]), a, e.zeros([4, 6]))).toThrow(/output \[3, 5\] f32 cannot hold the f32 result \[3, 6\]/);
    expect(matmul(e.zeros([3, 5]), e.zeros([6, 5]), { transB: true }).shape).toEqual([3, 6]);
  });

  it('handles K = 0 (zeros) and empty outputs', async () => {
    const e = await getEngine();
    const c = matmul(e.zeros([3, 0]), e.zeros([0, 2]));
    expect(Array.from(await c.read())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(matmul(e.zeros([0, 4]), e.zeros([4, 3])).shape).toEqual([0, 3]);
  });

  it('default choice: sgb4x32 for large outputs on a CPU adapter with 8-wide subgroups, reg4x4 for tiny ones', async () => {
    const e = await getEngine();
    clearMatmulTuning(e);
    const sgb = usableVariants(e.gpu).some((v) => v.kind === 'sgb');
    if (isCpuAdapter(e.gpu)) {
      expect(chooseVariant(e, 512, 512, 512).name).toBe(sgb ? 'sgb4x32' : 'reg8x16');
      expect(chooseVariant(e, 40, 30, 512).name).toBe('reg4x4');
      // With fitRows (the conv im2col GEMMs) the sgb workgroup pads M the least, ties to 16 invocations: M 128 and
      // M 320 → 64-row groups (128-row ones would pad 320 to 384), M 864 → 32-row groups (27 of them, no padding).
      if (sgb) {
        expect(chooseVariant(e, 512, 512, 512, false, false, true).name).toBe('sgb4x32w16');
        expect(chooseVariant(e, 128, 216, 3456, false, false, true).name).toBe('sgb4x32w16');
        expect(chooseVariant(e, 864, 1728, 64, true, false, true).name).toBe('sgb4x32w8');
        expect(chooseVariant(e, 320, 64, 8640, false, false, true).name).toBe('sgb4x32w16');
      }
    }
    // An adapter without subgroups of 8 never gets an sgb variant, and a forced one is refused with a clear error.
    if (!sgb) {
      expect(() => matmulInto(e.zeros([64, 64]), e.zeros([64, 64]), e.zeros([64, 64]), { variant: 'sgb4x32' })).toThrow(/needs subgroups of at least 8/);
    }
  });

  it('autotunes a shape class once and uses the choice', async () => {
    const e = await getEngine();
    clearMatmulTuning(e);
    const r = await tuneMatmul(e, 24, 20, 16, { candidates: ['naive', 'reg4x4'], reps: 1 });
    expect(Object.keys(r.timings).sort()).toEqual(['naive', 'reg4x4']);
    for (const t of Object.values(r.timings)) expect(t).toBeGreaterThan(0);
    if (isCpuAdapter(e.gpu)) {
      // Software adapter in Node: ranked by process CPU time, which the result reports.
      expect(Object.keys(r.cpuMs!).sort()).toEqual(['naive', 'reg4x4']);
      expect(r.best).toBe(Object.entries(r.cpuMs!).sort((x, y) => x[1] - y[1])[0][0]);
    }
    expect(r.shapeClass).toBe(shapeClass(24, 20, 16));
    expect(chooseVariant(e, 24, 20, 16).name).toBe(r.best);
    // Same class (sizes in the same buckets, same alignment): the cached result, no timing again.
    expect(await tuneMatmul(e, 28, 32, 12, { candidates: ['reg8x16'] })).toBe(r);
    clearMatmulTuning(e);
    expect(chooseVariant(e, 24, 20, 16).name).not.toBe('naive');
  });
});

describe('matmul beyond the storage-binding limit', () => {
  let small: Awaited<ReturnType<typeof createEngine>> | null = null;
  afterAll(() => small?.destroy());

  it('splits along M when A and C exceed maxStorageBufferBindingSize, and refuses an oversized B', async () => {
    // A device whose bindings hold only 4 KiB: A (300×17 f32 = 20 KiB) and C (300×9) need several chunks.
    small = await createEngine({ limits: { maxStorageBufferBindingSize: 4096 } });
    const e = small;
    const M = 300;
    const K = 17;
    const N = 9;
    const a = randArray(M * K, 77);
    const b = randArray(K * N, 78);
    for (const variant of ['reg8x16', 'reg4x4', 'naive', ...(usableVariants(e.gpu).some((v) => v.name === 'sgb4x32') ? ['sgb4x32'] : [])]) {
      const tc = e.empty([M, N]);
      poison(tc);
      matmulInto(tc, e.tensor(a, [M, K]), e.tensor(b, [K, N]), { variant });
      expect(relErr(await tc.read(), refMatmul(a, b, M, N, K, false, false)), variant).toBeLessThan(1e-5);
    }
    // Batched, with a transposed A: A (2×20×40, 6.4 KiB) is bound one batch at a time; C's rows (40×30 per
    // batch, 4.8 KiB) are split along M, i.e. along A's columns.
    const at = randArray(2 * 20 * 40, 79);
    const bt = randArray(20 * 30, 80);
    const tc = e.empty([2, 40, 30]);
    poison(tc);
    matmulInto(tc, e.tensor(at, [2, 20, 40]), e.tensor(bt, [20, 30]), { transA: true });
    const ref = new Float64Array(2 * 40 * 30);
    for (let i = 0; i < 2; i++) ref.set(refMatmul(at.subarray(i * 800, (i + 1) * 800), bt, 40, 30, 20, true, false), i * 1200);
    expect(relErr(await tc.read(), ref)).toBeLessThan(1e-5);
    expect(() => matmul(e.zeros([4, 40]), e.zeros([40, 40]))).toThrow(/B needs a 6400-byte binding; this adapter allows 4096/);
  });
});
