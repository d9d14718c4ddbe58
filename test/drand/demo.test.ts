// `vesselfm demo --quick` end to end: D_drand generation, a few training steps, zero-shot segmentation of the OCTA
// fixture (central 64³), metrics printed as numbers in [0, 1], overlay and sample sheet written.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ['bin/vesselfm.mjs', 'demo', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

describe('vesselfm demo --quick', () => {
  it('generates, trains, segments the real OCTA volume zero-shot and prints Dice and clDice', async () => {
    const out = join(dir, 'q');
    const r = await run('--quick', '--out', out, '--steps', '3', '--samples', '2');
    expect(r.code, r.stderr).toBe(0);
    const m = /Dice (\d+\.\d+)\s+clDice (\d+\.\d+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    for (const v of [Number(m![1]), Number(m![2])]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    for (const f of ['octa_overlay.png', 'drand_samples.png']) {
      expect(existsSync(join(out, f))).toBe(true);
      expect(readFileSync(join(out, f)).subarray(1, 4).toString()).toBe('PNG');
    }
  });
});
