import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTorch, stateDict } from '../../src/io/torch.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { loadWeights, withDynunetAliases, dynunetAliasOf, dynunetLevels, withAliases } from '../../src/io/checkpoint.js';
import type { TensorRecord } from '../../src/io/tensors.js';
import { DynUNet } from '../../src/models/dynunet.js';
import { getEngine } from '../helpers.js';
import { readVolume } from '../../src/io/volume.js';
import { readNpz } from '../../src/io/npz.js';

const root = process.cwd();
const shared = join(root, '../shared/fixtures/torch');
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfm-convert-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/vesselfm.mjs'), 'convert', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('vesselfm convert: checkpoints', () => {
  it('dynunet_small.pt → safetensors: 91 canonical tensors, aliases dropped, values unchanged', () => {
    const out = join(dir, 'dyn.safetensors');
    const r = cli(join(shared, 'dynunet_small.pt'), out, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.tensors).toBe(91);
    expect(summary.aliasesDropped).toBe(89);
    expect(summary.sidecar).toBe(null); // a bare state_dict has nothing else to keep
    const st = readSafetensors(new Uint8Array(readFileSync(out)));
    const sd = stateDict(readTorch(new Uint8Array(readFileSync(join(shared, 'dynunet_small.pt')))));
    expect([...st.tensors.keys()]).toEqual(sd.canonical);
    for (const k of sd.canonical) {
      const a = st.tensors.get(k)!;
      expect(a.shape).toEqual(sd.tensors.get(k)!.shape);
      expect(Buffer.from((a.data as Float32Array).buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from((sd.tensors.get(k)!.data as Float32Array).buffer, sd.tensors.get(k)!.data.byteOffset, sd.tensors.get(k)!.data.byteLength))).toBe(true);
    }
    expect(st.metadata.source).toBe('dynunet_small.pt');
    // loading it back with the DynUNet alias rule gives exactly the .pt's 180 keys, aliases sharing data
    const w = loadWeights(out);
    const full = withDynunetAliases(w.tensors);
    expect(new Set(full.keys())).toEqual(new Set(sd.tensors.keys()));
    for (const [alias, canon] of sd.aliases) {
      expect(dynunetAliasOf(canon)).toBe(alias);
      expect(full.get(alias)).toBe(full.get(canon));
    }
    expect(dynunetAliasOf('output_block.conv.conv.weight')).toBe(null);
    // withAliases gives the same 180 keys from the safetensors file and from the .pt
    const fromPt = withAliases(loadWeights(join(shared, 'dynunet_small.pt')));
    const fromSt = withAliases(w);
    expect([...fromPt.keys()].sort()).toEqual([...fromSt.keys()].sort());
    expect(fromPt.size).toBe(180);
  });
  it('the released checkpoint layout: dynunet_full_keys.json maps by the same alias rule', () => {
    const file = JSON.parse(readFileSync(join(shared, 'dynunet_full_keys.json'), 'utf8')) as { params_unique: number; keys: [string, number[]][] };
    const list = file.keys.map(([k]) => k);
    expect(list.length).toBe(180);
    const canonical = list.filter((k) => !k.startsWith('skip_layers.'));
    expect(canonical.length).toBe(91);
    const aliases = new Set(canonical.map((k) => dynunetAliasOf(k)).filter((a): a is string => a !== null));
    expect(aliases).toEqual(new Set(list.filter((k) => k.startsWith('skip_layers.'))));
    // and the canonical keys hold the stated number of unique parameters
    let n = 0;
    for (const [k, shape] of file.keys) if (!k.startsWith('skip_layers.')) n += shape.reduce((a, b) => a * b, 1);
    expect(n).toBe(file.params_unique);
    expect(n).toBe(31_418_977);
  });
  it('the alias rule follows the depth: 4- and 5-level DynUNets get exactly their own skip_layers keys', async () => {
    const e = await getEngine();
    for (const filters of [[2, 2, 2, 2], [2, 2, 2, 2, 2]]) {
      const net = new DynUNet(e, { filters });
      try {
        const keys = [...net.stateDict().keys()];
        const canonical = new Map(keys.filter((k) => !k.startsWith('skip_layers.')).map((k) => [k, { dtype: 'f32', shape: [1], data: new Float32Array(1) } as unknown as TensorRecord]));
        expect(dynunetLevels(canonical.keys())).toBe(filters.length);
        expect([...withDynunetAliases(canonical).keys()].sort()).toEqual(keys.sort());
      } finally {
        net.dispose();
      }
    }
  });
  it('a Lightning checkpoint: state_dict found, model. removed, sidecar and optimizer tensors written', () => {
    const out = join(dir, 'light.safetensors');
    const r = cli(join(root, 'test/fixtures/torch/lightning_p2.pt'), out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/11 tensors.*\(from 'state_dict', prefix 'model\.' removed\); 1 alias dropped; sidecar/);
    const side = JSON.parse(readFileSync(out + '.json', 'utf8'));
    expect(side.epoch).toBe(3);
    expect(side.global_step).toBe(120);
    expect(side.optimizer_states[0].param_groups[0].weight_decay).toBe(0.1);
    expect(side.optimizer_states[0].state['conv.weight'].exp_avg).toEqual({ tensor: 'conv.weight.exp_avg' });
    const opt = readSafetensors(new Uint8Array(readFileSync(join(dir, 'light.optim.safetensors'))));
    expect(opt.tensors.get('conv.weight.exp_avg')!.shape).toEqual([2, 3, 4]);
    const w = loadWeights(out);
    expect(w.extra.epoch).toBe(3);
    expect(w.tensors.has('conv.weight')).toBe(true);
    expect(w.tensors.has('alias.weight')).toBe(false);
  });
  it('checkpoint → .npz for inspection in NumPy', () => {
    const out = join(dir, 'flow.npz');
    expect(cli(join(shared, 'flow_c32_m12_s32.pt'), out).code).toBe(0);
    const npz = readNpz(new Uint8Array(readFileSync(out)));
    const names = readNpz(new Uint8Array(readFileSync(join(shared, 'flow_c32_m12_s32.npz')))).get('param_names')!.data as string[];
    expect(new Set(npz.keys())).toEqual(new Set(names));
  });
});

describe('vesselfm convert: volumes', () => {
  it('OCTA labels .tif → .nii.gz → .mha → .npy → .tif keep every voxel', () => {
    const src = join(root, 'test/fixtures/data/octa/OCTA-Labels.tif');
    const chain = [src, join(dir, 'o.nii.gz'), join(dir, 'o.mha'), join(dir, 'o.npy'), join(dir, 'o.tif')];
    for (let i = 0; i + 1 < chain.length; i++) {
      const r = cli(chain[i], chain[i + 1]);
      expect(r.err).toBe('');
      expect(r.out).toContain('[64, 128, 128] uint8');
    }
    const a = readVolume(src);
    const b = readVolume(chain[chain.length - 1]);
    expect(Buffer.from(b.data as Uint8Array).equals(Buffer.from(a.data as Uint8Array))).toBe(true);
  });
  it('an oblique NIfTI through MetaImage keeps its affine; --dtype converts', () => {
    const src = join(root, 'test/fixtures/nifti/qform_be_i16.nii');
    expect(cli(src, join(dir, 'q.mhd'), '--compression', 'deflate').code).toBe(0);
    expect(existsSync(join(dir, 'q.zraw'))).toBe(true);
    expect(cli(join(dir, 'q.mhd'), join(dir, 'q.nii.gz'), '--dtype', 'float32').code).toBe(0);
    const a = readVolume(src);
    const b = readVolume(join(dir, 'q.nii.gz'));
    expect(b.dtype).toBe('float32');
    expect(Array.from(b.data as Float32Array)).toEqual(Array.from(a.data as Int16Array));
    for (let i = 0; i < 16; i++) expect(Math.abs(b.affine[i] - a.affine[i])).toBeLessThan(1e-5);
  });
  it('bad input: one line on stderr and exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['a.png', join(dir, 'b.nii')], /^vesselfm: a\.png: unknown file extension/],
      [[join(root, 'test/fixtures/data/octa/OCTA-Data.tif'), join(dir, 'b.jpg')], /unknown file extension/],
      [[join(dir, 'o.nii.gz'), join(dir, 'x.pt')], /writing PyTorch \.pt files is not supported/],
      [[join(dir, 'o.nii.gz'), join(dir, 'x.tif'), '--dtype', 'complex'], /--dtype must be one of/],
    ];
    const cut = join(dir, 'cut.pt');
    writeFileSync(cut, readFileSync(join(shared, 'dynunet_small.pt')).subarray(0, 200000));
    cases.push([[cut, join(dir, 'cut.safetensors')], /cut\.pt: truncated zip archive/]);
    for (const [args, re] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err.trim().split('\n').length).toBe(1);
      expect(r.err).toMatch(re);
    }
    expect(existsSync(join(dir, 'cut.safetensors'))).toBe(false);
  });
});
