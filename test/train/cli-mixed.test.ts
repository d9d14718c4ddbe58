// `vesselfm train --precision mixed` through the command line: a short run on a tiny network writes the loss scale
// into the log, the summary and the checkpoint sidecar, resumes with it, and a bad --precision is one line.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.js';
import { getEngine, vesselfmCli } from '../helpers.js';

const root = process.cwd();
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-train-mixed-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const train = (...args: string[]) => vesselfmCli(['train', ...args]);

describe('vesselfm train --precision', () => {
  it('mixed: log lines carry the loss scale, the summary and checkpoint say mixed, --resume continues in mixed', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const S = 8;
    const n = S ** 3;
    for (let k = 0; k < 2; k++) {
      const img = new Float32Array(n);
      const lab = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const y = Math.floor(i / S) % S;
        const x = i % S;
        lab[i] = (y - 4) ** 2 + (x - 4 - k) ** 2 < 5 ? 1 : 0;
        img[i] = lab[i] ? 0.8 : 0.2 + 0.1 * Math.sin(i);
      }
      mkdirSync(join(dir, 'data', String(k)), { recursive: true });
      writeFileSync(join(dir, 'data', String(k), 'img.npy'), writeNpy({ data: img, shape: [S, S, S] }));
      writeFileSync(join(dir, 'data', String(k), 'mask.npy'), writeNpy({ data: lab, shape: [S, S, S] }));
    }
    const save = join(dir, 'm.safetensors');
    const log = join(dir, 'm.jsonl');
    const common = ['--data', join(dir, 'data'), '--patch', '8', '--batch', '1', '--filters', '4,8,8', '--lr', '1e-3', '--schedule', 'constant', '--save', save, '--log', log, '--json'];
    const r = train(...common, '--steps', '2', '--precision', 'mixed');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ steps: 2, precision: 'mixed', lossScale: 65536, skippedSteps: 0 });
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.step, l.scale])).toEqual([
      [1, 65536],
      [2, 65536],
    ]);
    expect(lines.every((l) => Number.isFinite(l.loss) && !l.skipped)).toBe(true);
    const side = JSON.parse(readFileSync(save + '.json', 'utf8'));
    expect([side.loss_scale, side.loss_scale_good_steps]).toEqual([65536, 2]);
    expect(side.train.precision).toBe('mixed');
    const r2 = train('--data', join(dir, 'data'), '--patch', '8', '--batch', '1', '--resume', save, '--steps', '3', '--log', log, '--json');
    expect(r2.err).toBe('');
    expect(JSON.parse(r2.out.trim().split('\n').at(-1)!)).toMatchObject({ steps: 3, from: 2, precision: 'mixed', lossScale: 65536 });
  });

  it('vesselfm flow train --precision mixed: log lines carry the loss scale, the sidecar keeps it', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const save = join(dir, 'f.safetensors');
    const log = join(dir, 'f.jsonl');
    const r = spawnSync(
      process.execPath,
      [join(root, 'bin/vesselfm.mjs'), 'flow', 'train', '--data', join(dir, 'data'), '--size', '8', '--width', '32', '--mult', '1,2', '--attention', '4', '--classes', '4',
        '--batch', '1', '--steps', '2', '--lr', '1e-4', '--precision', 'mixed', '--save', save, '--log', log, '--json'],
      { cwd: root, encoding: 'utf8', timeout: 300_000 },
    );
    expect(r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('Warning: ') && !l.startsWith('note: --width 32')).join('\n')).toBe('');
    expect(r.status).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.step, l.scale, l.skipped ?? false])).toEqual([
      [1, 65536, false],
      [2, 65536, false],
    ]);
    const side = JSON.parse(readFileSync(save + '.json', 'utf8'));
    expect([side.loss_scale, side.loss_scale_good_steps, side.train.precision]).toEqual([65536, 2, 'mixed']);
  });

  it('a bad value is one line', () => {
    const r = train('--data', join(dir, 'nowhere'), '--precision', 'bf16');
    expect(r.code).not.toBe(0);
    expect(r.err).toBe('vesselfm: --precision must be f32 or mixed, got "bf16"');
  });
});
