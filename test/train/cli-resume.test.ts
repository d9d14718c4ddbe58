// `vesselfm train` through the command line with sample folders: a weighted two-source mix with previews and
// --resume, and a run killed with SIGKILL that resumes from its last checkpoint to exactly the weights of an
// uninterrupted run.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { toFloat32 } from '../../src/io/tensors.js';
import { vesselfmCli } from '../helpers.js';

const root = process.cwd();
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-train-resume-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const train = (...args: string[]) => vesselfmCli(['train', ...args]);

describe('vesselfm train (CLI): sample folders, mix, resume', () => {
  it('trains on a weighted mix of sample folders, writes previews, and resumes through --resume', () => {
    const n = 8 * 8 * 8;
    for (const [src, count] of [['drand', 3], ['real', 2]] as const) {
      for (let i = 0; i < count; i++) {
        const d = join(dir, 'mix', src, String(i));
        mkdirSync(d, { recursive: true });
        const img = Float32Array.from({ length: n }, (_, k) => ((k * 7 + i) % 13) / 13);
        const m = Uint8Array.from(img, (v) => (v > 0.6 ? 1 : 0));
        writeFileSync(join(d, 'img.npy'), writeNpy({ data: img, shape: [8, 8, 8] }));
        writeFileSync(join(d, 'mask.npy'), writeNpy({ data: m, shape: [8, 8, 8], dtype: 'bool' }));
      }
    }
    const data = [`drand=${join(dir, 'mix', 'drand')}:0.7`, `real=${join(dir, 'mix', 'real')}:0.3`];
    const ck = join(dir, 'mix.safetensors');
    const log = join(dir, 'mix.jsonl');
    const common = ['--patch', '8', '--batch', '2', '--log', log, '--json'];
    const r = train('--data', ...data, '--filters', '2,4,4', '--lr', '1e-3', '--steps', '2', '--save', ck, '--preview-every', '2', '--preview-dir', join(dir, 'prev'), ...common);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'prev'))).toEqual(['step_000002.png']);
    const r2 = train('--data', ...data, '--resume', ck, '--steps', '3', ...common);
    expect(r2.err).toBe('');
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.out.trim().split('\n').at(-1)!)).toMatchObject({ from: 2, steps: 3, saved: ck });
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
    for (const l of lines) expect(Number.isFinite(l.loss) && typeof l.lr === 'number').toBe(true);
    expect(JSON.parse(readFileSync(ck + '.json', 'utf8')).step).toBe(3);
  }, 300_000);

  it('a run killed (SIGKILL) after a checkpoint resumes to the same weights as an uninterrupted run', async () => {
    const data = [`drand=${join(dir, 'mix', 'drand')}:0.7`, `real=${join(dir, 'mix', 'real')}:0.3`];
    const common = ['--data', ...data, '--filters', '2,4,4', '--patch', '8', '--batch', '2', '--lr', '1e-2', '--steps', '8', '--json'];
    const straight = join(dir, 'straight.safetensors');
    expect(train(...common, '--save', straight).code).toBe(0);

    const ck = join(dir, 'killed.safetensors');
    const log = join(dir, 'killed.jsonl');
    const child = spawn(process.execPath, [join(root, 'bin/vesselfm.mjs'), 'train', ...common, '--save', ck, '--save-every', '2', '--log', log], { cwd: root, stdio: 'ignore' });
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    // Kill it once step 3 has been logged: the step-2 checkpoint is complete, later work is lost.
    const t0 = Date.now();
    while (Date.now() - t0 < 120_000) {
      if (existsSync(log) && readFileSync(log, 'utf8').includes('"step":3,')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const at = JSON.parse(readFileSync(ck + '.json', 'utf8')).step;
    console.log(`killed after step ${at}'s checkpoint; log: ${readFileSync(log, 'utf8').trim().split('\n').length} lines`);
    expect(at).toBeGreaterThanOrEqual(2);
    expect(at).toBeLessThan(8);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);

    const r = train('--data', ...data, '--patch', '8', '--batch', '2', '--steps', '8', '--resume', ck, '--json');
    expect(r.err).toBe('');
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toMatchObject({ from: at, steps: 8 });
    const a = readSafetensors(new Uint8Array(readFileSync(straight)));
    const b = readSafetensors(new Uint8Array(readFileSync(ck)));
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength);
    for (const [k, t] of a.tensors) expect(bytes(toFloat32(b.tensors.get(k)!)).equals(bytes(toFloat32(t))), k).toBe(true);
  }, 300_000);

});
