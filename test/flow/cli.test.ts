// `vesselfm flow train` and `vesselfm flow sample` end to end on tiny data: JSONL log, four-file checkpoint,
// resume, sampling from the checkpoint, `--noise` equal to the seeded noise gives the same sample, `--batch 2`
// equal to `--batch 1` under `--cfg bg,rand`, `--cfg interpolate` draws recorded in samples.json, one-line errors.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noiseSeedOf } from '../../src/flow/train-node.js';
import { readNpyFile } from '../../src/io/files.js';
import { npyToFloat32, writeNpy } from '../../src/io/npy.js';
import { normal } from '../../src/tensor/math.js';
import { getEngine } from '../helpers.js';
import { tinyPair } from './tiny.js';

const root = process.cwd();
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-flow-cli-'));
  const { image, mask } = tinyPair(8);
  for (let i = 0; i < 2; i++) {
    mkdirSync(join(dir, 'data', String(i)), { recursive: true });
    writeFileSync(join(dir, 'data', String(i), 'img.npy'), writeNpy({ data: i ? image.map((v) => 1 - v) : image, shape: [8, 8, 8], dtype: 'float16' }));
    writeFileSync(join(dir, 'data', String(i), 'mask.npy'), writeNpy({ data: Uint8Array.from(mask), shape: [8, 8, 8], dtype: 'bool' }));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flow(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/vesselfm.mjs'), 'flow', ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  const err = r.stderr
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('Warning: ') && !l.startsWith('sample '))
    .join('\n');
  return { code: r.status ?? -1, out: r.stdout, err };
}

describe('vesselfm flow (CLI)', () => {
  it('trains, checkpoints, resumes and samples; --noise reproduces the seeded noise', async () => {
    const ck = join(dir, 'flow.safetensors');
    const log = join(dir, 'log.jsonl');
    const common = ['--data', join(dir, 'data'), '--batch', '2'];
    let r = flow('train', ...common, '--size', '8', '--width', '32', '--mult', '1,2', '--attention', '4', '--classes', '4', '--steps', '2', '--lr', '1e-3', '--save', ck, '--log', log, '--preview-every', '2', '--preview-dir', join(dir, 'prev'), '--preview-steps', '2', '--json');
    expect(r.err).toMatch(/^note: --width 32 gives GroupNorm\(32\) one channel per group in the first level, which cancels the time and class embedding there \(upstream uses 64\)$/);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'prev', 'flow-preview-2.png'))).toBe(true);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!).steps).toBe(2);
    for (const f of ['flow.safetensors', 'flow.safetensors.json', 'flow.ema.safetensors', 'flow.optim.safetensors']) expect(existsSync(join(dir, f)), f).toBe(true);
    r = flow('train', ...common, '--steps', '3', '--resume', ck, '--log', log, '--json');
    expect(r.err).toBe('');
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
    expect(lines.every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(JSON.parse(readFileSync(ck + '.json', 'utf8')).step).toBe(3);

    // the seeded noise of sample 0, written as a file
    const e = await getEngine();
    const x0 = (await normal(e, [1, 1, 8, 8, 8], 0, 1, noiseSeedOf(9), 0).read()) as Float32Array;
    writeFileSync(join(dir, 'noise.npy'), writeNpy({ data: x0, shape: [8, 8, 8] }));
    const a = flow('sample', '--weights', ck, '--masks', join(dir, 'data'), '--count', '1', '--class', '2', '--steps', '3', '--guidance', '1.5', '--seed', '9', '--out', join(dir, 'a'), '--json');
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(JSON.parse(a.out.trim()).state).toBe('ema');
    const b = flow('sample', '--weights', ck, '--masks', join(dir, 'data'), '--count', '1', '--class', '2', '--steps', '3', '--guidance', '1.5', '--noise', join(dir, 'noise.npy'), '--out', join(dir, 'b'), '--json');
    expect(b.code).toBe(0);
    const ia = readNpyFile(join(dir, 'a', '0', 'img.npy'));
    const ib = readNpyFile(join(dir, 'b', '0', 'img.npy'));
    expect(ia.dtype).toBe('float16');
    expect(ia.shape).toEqual([8, 8, 8]);
    expect(Array.from(npyToFloat32(ia))).toEqual(Array.from(npyToFloat32(ib)));
    const m = readNpyFile(join(dir, 'a', '0', 'mask.npy'));
    expect(m.dtype).toBe('bool');
    expect(existsSync(join(dir, 'a', 'sheet.png'))).toBe(true);

    // --batch 2 gives the same samples as --batch 1 (cfg_bg with cfg_rand: per-sample weights drawn from the seed)
    const variant = ['--weights', ck, '--masks', join(dir, 'data'), '--count', '2', '--class', '1', '--steps', '2', '--guidance', '2', '--cfg', 'bg,rand', '--seed', '4', '--json'];
    const b2 = flow('sample', ...variant, '--batch', '2', '--out', join(dir, 'b2'));
    expect(b2.err).toBe('');
    expect(JSON.parse(b2.out.trim())).toMatchObject({ count: 2, cfg: 'bg,rand', batch: 2 });
    const b1 = flow('sample', ...variant, '--batch', '1', '--out', join(dir, 'b1'));
    expect(b1.code).toBe(0);
    for (const k of ['0', '1']) {
      const x = npyToFloat32(readNpyFile(join(dir, 'b2', k, 'img.npy')));
      const y = npyToFloat32(readNpyFile(join(dir, 'b1', k, 'img.npy')));
      expect(Math.max(...x.map((v, i) => Math.abs(v - y[i]))), `sample ${k}`).toBeLessThan(1e-3);
    }
    const rec2 = JSON.parse(readFileSync(join(dir, 'b2', 'samples.json'), 'utf8'));
    expect(rec2).toEqual(JSON.parse(readFileSync(join(dir, 'b1', 'samples.json'), 'utf8')));
    expect(rec2.cfg).toBe('bg,rand');
    const ws = rec2.samples.map((r: { guidance: number }) => r.guidance);
    expect(ws.every((w: number) => w >= 0 && w < 2) && ws[0] !== ws[1]).toBe(true);
    // interpolate: a second class ≠ the first and a weight in [0, 1) per sample, recorded
    const ip = flow('sample', '--weights', ck, '--masks', join(dir, 'data'), '--count', '2', '--class', '1', '--steps', '2', '--cfg', 'interpolate', '--batch', '2', '--out', join(dir, 'ip'), '--json');
    expect(ip.err).toBe('');
    const recI = JSON.parse(readFileSync(join(dir, 'ip', 'samples.json'), 'utf8'));
    for (const r of recI.samples) {
      expect(r.class).toBe(1);
      expect(r.y2 !== 1 && r.y2 >= 0 && r.y2 < 4 && r.mix_weight >= 0 && r.mix_weight < 1).toBe(true);
    }

    // one-line errors
    expect(flow('sample', '--weights', ck, '--masks', join(dir, 'data'), '--cfg', 'bg,wild', '--out', join(dir, 'c')).err).toMatch(/^vesselfm: --cfg: unknown variant "wild"; use standard, bg, rand, interpolate/);
    expect(flow('sample', '--weights', ck, '--masks', join(dir, 'data'), '--cfg', 'rand', '--out', join(dir, 'c')).err).toMatch(/^vesselfm: --cfg rand: rand modifies classifier-free guidance; give --guidance w > 0$/);
    const bad = flow('sample', '--weights', ck, '--masks', join(dir, 'nothing'), '--out', join(dir, 'c'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^vesselfm: --masks: .*no such folder$/);
    const cls = flow('sample', '--weights', ck, '--masks', join(dir, 'data'), '--class', '7', '--out', join(dir, 'c'));
    expect(cls.err).toMatch(/^vesselfm: --class 7: the network has 4 classes$/);
  }, 600_000);
});
