// `vesselfm drand` end to end: spawns the real command at 16³ and checks the files (upstream's layout and dtypes),
// byte-identical shards across processes, NIfTI output, the preview strip, and one-line errors for bad moulds.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/io/npy.js';
import { readVolume } from '../../src/io/volume.js';

const root = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'drand-cli-'));

function run(...args: string[]): Promise<{ code: number; stdout: string; errors: string[] }> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ['bin/vesselfm.mjs', 'drand', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => done({ code: code ?? -1, stdout, errors: stderr.split('\n').filter((l) => l.trim() !== '' && !/^Warning: .*artificially reduced/.test(l)) }));
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vesselfm drand', () => {
  it('writes <i>/img.npy (float16 in [0, 1]) and <i>/mask.npy (bool), a contact sheet and a JSON summary; shards are byte-identical', async () => {
    const all = join(dir, 'all');
    const r = await run('--count', '4', '--size', '16', '--out', all, '--seed', '3', '--norm-stride', '2', '--json');
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(s.samples).toBe(4);
    expect(s.samplesPerSecond).toBeGreaterThan(0);
    expect(existsSync(join(all, 'contact_sheet.png'))).toBe(true);
    for (let i = 0; i < 4; i++) {
      const img = readNpy(readFileSync(join(all, String(i), 'img.npy')));
      const mask = readNpy(readFileSync(join(all, String(i), 'mask.npy')));
      expect(img.dtype).toBe('float16');
      expect(mask.dtype).toBe('bool');
      expect(img.shape).toEqual([16, 16, 16]);
      expect(mask.shape).toEqual([16, 16, 16]);
    }
    const img0 = readVolume(join(all, '0', 'img.npy')).data;
    for (const v of img0) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    // The odd shard in another process writes exactly indices 1 and 3, byte for byte.
    const odd = join(dir, 'odd');
    const r2 = await run('--count', '4', '--size', '16', '--out', odd, '--seed', '3', '--norm-stride', '2', '--shard', '1/2', '--json');
    expect(r2.code).toBe(0);
    expect(readdirSync(odd).filter((f) => !f.endsWith('.png')).sort()).toEqual(['1', '3']);
    for (const i of ['1', '3']) {
      for (const f of ['img.npy', 'mask.npy']) expect(Buffer.compare(readFileSync(join(odd, i, f)), readFileSync(join(all, i, f)))).toBe(0);
    }
  });

  it('writes NIfTI with --format nii.gz and a labelled preview strip with --preview', async () => {
    const nii = join(dir, 'nii');
    const r = await run('--count', '1', '--size', '16', '--out', nii, '--format', 'nii.gz', '--norm-stride', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/samples\/s/);
    const v = readVolume(join(nii, '0', 'img.nii.gz'));
    expect(v.shape).toEqual([16, 16, 16]);
    expect(readVolume(join(nii, '0', 'mask.nii.gz')).dtype).toBe('uint8');
    const png = join(dir, 'preview.png');
    const p = await run('--preview', '--size', '16', '--out', png, '--norm-stride', '2', '--json');
    expect(p.code).toBe(0);
    const s = JSON.parse(p.stdout.trim().split('\n').at(-1)!);
    expect(s.stages).toContain('kspaceSpike');
    expect(s.stages[0]).toBe('mould');
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  });

  it('bad moulds and options fail with one clear line', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'a_mask.npy'), writeNpy({ data: new Float32Array(16 * 16 * 16).map((_, i) => (i % 3) * 0.5), shape: [16, 16, 16] }));
    const r = await run('--count', '1', '--size', '16', '--out', join(dir, 'x'), '--moulds', bad);
    expect(r.code).toBe(1);
    expect(r.errors.length).toBe(1);
    expect(r.errors[0]).toMatch(/a_mask\.npy: not binary/);
    const small = await run('--count', '1', '--size', '32', '--out', join(dir, 'x'), '--moulds', join(root, 'test/fixtures/data/octa'));
    expect(small.code).toBe(1);
    expect(small.errors.length).toBe(1);
    const sh = await run('--count', '2', '--size', '16', '--out', join(dir, 'x'), '--shard', '2/2');
    expect(sh.errors).toEqual(['vesselfm: --shard 2/2: need 0 ≤ k < n']);
  });
});
