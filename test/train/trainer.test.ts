// The training loop: resume equivalence (4 steps straight = 2 + checkpoint + resume + 2, bit for bit), atomic
// checkpoints, the JSONL log, and the NaN/Inf stop.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PairSource, type VolumePair } from '../../src/data/datasets.js';
import { VesselError } from '../../src/gpu/errors.js';
import { loadCheckpoint, writeFilesTogether } from '../../src/train/checkpoint.js';
import { runTraining } from '../../src/train/run.js';
import { freshDynUNet, Trainer, type TrainOptions } from '../../src/train/trainer.js';
import { getEngine } from '../helpers.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-trainer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two small volumes with a bright tube (the label) on a noisy background; sizes not multiples of the patch. */
function tubes(): VolumePair[] {
  const out: VolumePair[] = [];
  const shapes: [number, number, number][] = [
    [13, 17, 19],
    [11, 20, 15],
  ];
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  shapes.forEach((sh, k) => {
    const n = sh[0] * sh[1] * sh[2];
    const image = new Float32Array(n);
    const label = new Uint8Array(n);
    for (let z = 0; z < sh[0]; z++)
      for (let y = 0; y < sh[1]; y++)
        for (let x = 0; x < sh[2]; x++) {
          const i = (z * sh[1] + y) * sh[2] + x;
          const inside = (y - sh[1] / 2) ** 2 + (x - sh[2] / 2 - k) ** 2 < 9;
          label[i] = inside ? 1 : 0;
          image[i] = (inside ? 0.7 : 0.2) + 0.2 * rnd();
        }
    out.push({ name: `tube${k}`, shape: sh, image, label });
  });
  return out;
}

const OPTS: TrainOptions = { patch: [8, 8, 8], batch: 2, lr: 1e-2, weightDecay: 0.1, schedule: 'vesselfm', seed: 7, augment: true, normalize: 'none' };

async function weightsOf(t: Trainer): Promise<Map<string, Float32Array>> {
  const m = new Map<string, Float32Array>();
  for (const [n, p] of t.net.namedParameters()) m.set(n, (await p.read()) as Float32Array);
  return m;
}

describe('Trainer', () => {
  it('4 steps straight equal 2 steps + checkpoint + resume + 2 steps (weights, AdamW state, RNG, schedule); the log has every step', async () => {
    const e = await getEngine();
    const src = () => [PairSource.fromArrays('tubes', tubes())];
    // A: straight through.
    const logA = join(dir, 'a.jsonl');
    const a = Trainer.start(e, freshDynUNet(e, [4, 8, 8], 3), src(), [1], OPTS);
    const sumA = await runTraining(a, { steps: 4, log: logA });
    expect(sumA.endStep).toBe(4);
    const wA = await weightsOf(a);
    const rngA = a.rngCounter;
    a.dispose();
    a.net.dispose();

    // B: two steps, checkpoint, a new process's worth of state from the files, two more.
    const logB = join(dir, 'b.jsonl');
    const ck = join(dir, 'b.safetensors');
    const b1 = Trainer.start(e, freshDynUNet(e, [4, 8, 8], 3), src(), [1], OPTS);
    const saved: number[] = [];
    await runTraining(b1, { steps: 2, log: logB, save: ck, saveEvery: 1, onCheckpoint: (s) => saved.push(s) });
    // every step, and no second write of step 2 at the end
    expect(saved).toEqual([1, 2]);
    b1.dispose();
    b1.net.dispose();
    const side = loadCheckpoint(ck).sidecar;
    expect(side.step).toBe(2);
    expect(side.rng.seed).toBe(7);
    expect(side.rng.counter).toBeGreaterThan(0);
    const b2 = await Trainer.resume(e, ck, src(), [1]);
    expect(b2.step).toBe(2);
    expect(b2.options).toEqual(OPTS);
    await runTraining(b2, { steps: 4, log: logB, save: ck });
    const wB = await weightsOf(b2);
    expect(b2.rngCounter).toBe(rngA);
    b2.dispose();
    b2.net.dispose();

    expect([...wB.keys()]).toEqual([...wA.keys()]);
    for (const [n, v] of wA) expect(Buffer.from(wB.get(n)!.buffer).equals(Buffer.from(v.buffer)), n).toBe(true);

    // The logs: one JSON line per step with step, loss, lr; identical losses for the straight and resumed runs.
    const la = readFileSync(logA, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const lb = readFileSync(logB, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(la.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(lb.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    for (const l of la) {
      expect(Number.isFinite(l.loss) && l.loss > 0 && l.loss < 1.5).toBe(true);
      expect(l.seconds).toBeGreaterThan(0);
    }
    // vesselFM schedule at base 1e-2: warm-up factor 0.01 for the first 10 steps.
    expect(la[0].lr).toBeCloseTo(1e-4, 12);
    expect(lb.map((l) => l.loss)).toEqual(la.map((l) => l.loss));
    expect(lb.map((l) => l.lr)).toEqual(la.map((l) => l.lr));
  }, 120_000);

  it('writes PNG previews and reports validation Dice (sliding windows) to the log', async () => {
    const e = await getEngine();
    const vols = tubes();
    const t = Trainer.start(e, freshDynUNet(e, [4, 8, 8], 3), [PairSource.fromArrays('tubes', vols)], [1], { ...OPTS, patch: [16, 16, 16], batch: 1 });
    const log = join(dir, 'val.jsonl');
    const previews = join(dir, 'previews');
    const seen: number[] = [];
    const sum = await runTraining(t, { steps: 2, log, previewEvery: 1, previewDir: previews, val: [vols[0]], valEvery: 2, onValidation: (s, _d, m) => seen.push(s, m) });
    expect(readdirSync(previews).sort()).toEqual(['step_000001.png', 'step_000002.png']);
    const png = readFileSync(join(previews, 'step_000002.png'));
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    // four panels of 16 px (image, label, prediction, overlay) side by side with 4 px gaps, 16 px high
    expect(png.readUInt32BE(16)).toBe(4 * 16 + 3 * 4);
    expect(png.readUInt32BE(20)).toBe(16);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => Object.keys(l).includes('val_dice'))).toEqual([false, false, true]);
    const v = lines[2];
    expect(v.step).toBe(2);
    expect(v.val_dice).toBeGreaterThanOrEqual(0);
    expect(v.val_dice).toBeLessThanOrEqual(1);
    expect(sum.validation).toEqual([{ step: 2, dice: [v.val_dice], mean: v.val_dice }]);
    expect(seen).toEqual([2, v.val_dice]);
    t.dispose();
    t.net.dispose();
  }, 60_000);

  it('keeps GPU memory flat across steps (no tensor leaks per step)', async () => {
    const e = await getEngine();
    const t = Trainer.start(e, freshDynUNet(e, [2, 4, 4], 5), [PairSource.fromArrays('tubes', tubes())], [1], OPTS);
    await t.trainStep();
    const live = e.liveTensors;
    for (let i = 0; i < 3; i++) await t.trainStep();
    expect(e.liveTensors).toBe(live);
    t.dispose();
    t.net.dispose();
  }, 60_000);

  it('a checkpoint write that fails part-way leaves the previous checkpoint intact and no temporary files', async () => {
    const e = await getEngine();
    const t = Trainer.start(e, freshDynUNet(e, [2, 4, 4], 5), [PairSource.fromArrays('tubes', tubes())], [1], { ...OPTS, batch: 1 });
    const ck = join(dir, 'atomic.safetensors');
    await t.trainStep();
    await t.save(ck);
    const files = ['atomic.safetensors', 'atomic.safetensors.json', 'atomic.optim.safetensors'];
    const before = files.map((f) => readFileSync(join(dir, f)));
    await t.trainStep();
    let calls = 0;
    const failing = (path: string, data: Uint8Array): void => {
      calls++;
      if (calls === 2) {
        // the disk fills up half-way through the second file
        writeFileSync(path, data.subarray(0, data.length >> 1));
        throw new Error('ENOSPC: no space left on device');
      }
      writeFileSync(path, data);
    };
    await expect(t.save(ck, failing)).rejects.toThrow(/atomic\.safetensors: could not write \(ENOSPC/);
    expect(calls).toBe(2);
    files.forEach((f, i) => expect(readFileSync(join(dir, f)).equals(before[i]), f).toBe(true));
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(loadCheckpoint(ck).sidecar.step).toBe(1);
    // A successful save replaces all three together.
    await t.save(ck);
    expect(loadCheckpoint(ck).sidecar.step).toBe(2);
    t.dispose();
    t.net.dispose();
  }, 60_000);

  it('files of different saves are refused on resume', async () => {
    const e = await getEngine();
    const t = Trainer.start(e, freshDynUNet(e, [2, 4, 4], 5), [PairSource.fromArrays('tubes', tubes())], [1], { ...OPTS, batch: 1 });
    const ck = join(dir, 'mixed.safetensors');
    await t.trainStep();
    await t.save(ck);
    const oldSide = readFileSync(ck + '.json');
    await t.trainStep();
    await t.save(ck);
    writeFileSync(ck + '.json', oldSide);
    expect(() => loadCheckpoint(ck)).toThrow(/are from different saves/);
    t.dispose();
    t.net.dispose();
  }, 60_000);

  it('a non-finite loss stops training with a message naming the step, and no checkpoint is written', async () => {
    const e = await getEngine();
    const vols = tubes();
    // one NaN voxel in every 8×8×8 patch
    for (const v of vols) for (let i = 0; i < v.image.length; i += 97) v.image[i] = Number.NaN;
    const t = Trainer.start(e, freshDynUNet(e, [2, 4, 4], 5), [PairSource.fromArrays('tubes', vols)], [1], { ...OPTS, batch: 1 });
    const ck = join(dir, 'nan.safetensors');
    const log = join(dir, 'nan.jsonl');
    const err = await runTraining(t, { steps: 3, save: ck, log }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(VesselError);
    expect((err as Error).message).toMatch(/loss is NaN \(non-finite\) at step 1 /);
    expect(existsSync(ck)).toBe(false);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0].loss).toBe(null);
    expect(lines[0].error).toMatch(/non-finite/);
    t.dispose();
    t.net.dispose();
  }, 60_000);
});
