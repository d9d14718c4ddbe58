import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTorch, stateDict, flattenTensors, stripPrefix, toPlain, TorchTensor } from '../../src/io/torch.js';
import { unpickle, PyTuple } from '../../src/io/pickle.js';
import { readZip, writeZip } from '../../src/io/zip.js';
import { readNpz } from '../../src/io/npz.js';
import { toFloat32 } from '../../src/io/tensors.js';
import { VesselError } from '../../src/gpu/errors.js';

const shared = join(process.cwd(), '../shared/fixtures/torch');
const local = join(process.cwd(), 'test/fixtures/torch');
const bytesOf = (p: string) => new Uint8Array(readFileSync(p));

function errLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VesselError);
    const msg = (e as Error).message;
    expect(msg.includes('\n')).toBe(false);
    return msg;
  }
  throw new Error('expected an error');
}

/** DynUNet canonical shapes for filters f (spec §1.4 with (32,64,128,256,320,320) → f). */
function dynunetShapes(f: number[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const res = (p: string, ci: number, co: number) => {
    m.set(`${p}.conv1.conv.weight`, [co, ci, 3, 3, 3]);
    m.set(`${p}.conv2.conv.weight`, [co, co, 3, 3, 3]);
    for (const n of [1, 2, 3]) for (const wb of ['weight', 'bias']) m.set(`${p}.norm${n}.${wb}`, [co]);
    m.set(`${p}.conv3.conv.weight`, [co, ci, 1, 1, 1]);
  };
  res('input_block', 1, f[0]);
  for (let i = 0; i < 4; i++) res(`downsamples.${i}`, f[i], f[i + 1]);
  res('bottleneck', f[4], f[5]);
  for (let i = 0; i < 5; i++) {
    const ci = f[5 - i];
    const co = f[4 - i];
    m.set(`upsamples.${i}.transp_conv.conv.weight`, [ci, co, 2, 2, 2]);
    m.set(`upsamples.${i}.conv_block.conv1.conv.weight`, [co, 2 * co, 3, 3, 3]);
    m.set(`upsamples.${i}.conv_block.conv2.conv.weight`, [co, co, 3, 3, 3]);
    for (const n of [1, 2]) for (const wb of ['weight', 'bias']) m.set(`upsamples.${i}.conv_block.norm${n}.${wb}`, [co]);
  }
  m.set('output_block.conv.conv.weight', [1, f[0], 1, 1, 1]);
  m.set('output_block.conv.conv.bias', [1]);
  return m;
}

/** The alias rule of spec §1.4: skip_layers.(next_layer.)^i(downsample|upsample). → canonical key. */
function aliasTarget(k: string): string {
  let rest = k.slice('skip_layers.'.length);
  let i = 0;
  while (rest.startsWith('next_layer.')) {
    rest = rest.slice('next_layer.'.length);
    i++;
  }
  if (rest.startsWith('downsample.')) return (i === 0 ? 'input_block.' : `downsamples.${i - 1}.`) + rest.slice('downsample.'.length);
  if (rest.startsWith('upsample.')) return `upsamples.${4 - i}.` + rest.slice('upsample.'.length);
  expect(i).toBe(5);
  return 'bottleneck.' + rest;
}

describe('torch.save checkpoints: the DynUNet fixture', () => {
  const ckpt = readTorch(bytesOf(join(shared, 'dynunet_small.pt')), 'dynunet_small.pt');
  const sd = stateDict(ckpt);
  it('has 180 keys: 91 canonical with the spec shapes, 89 aliases sharing data', () => {
    expect(ckpt.archiveName).toBe('dynunet_small');
    expect(ckpt.byteorder).toBe('little');
    expect(sd.tensors.size).toBe(180);
    expect(sd.canonical.length).toBe(91);
    expect(sd.aliases.size).toBe(89);
    expect(sd.foundAt).toBe('');
    const want = dynunetShapes([4, 8, 8, 16, 16, 16]);
    expect(new Set(sd.canonical)).toEqual(new Set(want.keys()));
    for (const [k, shape] of want) expect(sd.tensors.get(k)!.shape, k).toEqual(shape);
    for (const [alias, canon] of sd.aliases) {
      expect(alias.startsWith('skip_layers.')).toBe(true);
      expect(canon).toBe(aliasTarget(alias));
      expect(sd.tensors.get(alias)!.data).toBe(sd.tensors.get(canon)!.data); // one typed array, shared
    }
    // the file stores each shared storage once
    expect(ckpt.storages.size).toBe(91);
  });
  it('order is input_block, downsamples, bottleneck, upsamples, output_block, then aliases', () => {
    const keys = [...sd.tensors.keys()];
    expect(keys[0]).toBe('input_block.conv1.conv.weight');
    expect(keys.slice(0, 6)).toEqual([
      'input_block.conv1.conv.weight',
      'input_block.conv2.conv.weight',
      'input_block.norm1.weight',
      'input_block.norm1.bias',
      'input_block.norm2.weight',
      'input_block.norm2.bias',
    ]);
    expect(keys[90]).toBe('output_block.conv.conv.bias');
    expect(keys.slice(91).every((k) => k.startsWith('skip_layers.'))).toBe(true);
  });
  it('values equal what Python’s unpickler reads (independent reader, stats from make_pt.py)', () => {
    const stats = JSON.parse(readFileSync(join(local, 'dynunet_small_stats.json'), 'utf8')) as Record<string, { shape: number[]; sum: number; sumsq: number; first: number[] }>;
    expect(Object.keys(stats).length).toBe(180);
    for (const [k, s] of Object.entries(stats)) {
      const t = sd.tensors.get(k)!;
      expect(t.dtype).toBe('float32');
      expect(t.shape).toEqual(s.shape);
      const d = t.data as Float32Array;
      let sum = 0;
      let sq = 0;
      for (const v of d) {
        sum += v;
        sq += v * v;
      }
      expect(Math.abs(sum - s.sum)).toBeLessThan(1e-9 * Math.max(1, s.sumsq));
      expect(Math.abs(sq - s.sumsq)).toBeLessThan(1e-9 * Math.max(1, s.sumsq));
      expect(Array.from(d.subarray(0, 3))).toEqual(s.first);
    }
  });
  it('matches dynunet_small.npz: same parameter names and shapes, and after_step is one AdamW step from these weights', () => {
    const npz = readNpz(bytesOf(join(shared, 'dynunet_small.npz')));
    const names = npz.get('param_names')!.data as string[];
    expect(new Set(names)).toEqual(new Set(sd.canonical));
    let checked = 0;
    for (const n of names) {
      const p = sd.tensors.get(n)!;
      const after = npz.get(`after_step.${n}`)!;
      const grad = npz.get(`grad.${n}`)!;
      expect(after.shape, n).toEqual(p.shape);
      expect(grad.shape, n).toEqual(p.shape);
      // First AdamW step: p' = p·(1 − lr·wd) − lr·g/(|g| + eps') ≈ p·(1 − 1e-4) − 1e-3·sign(g) where |g| ≫ 1e-8.
      const pv = p.data as Float32Array;
      const av = after.data as ArrayLike<number>;
      const gv = grad.data as ArrayLike<number>;
      let worst = 0;
      for (let i = 0; i < pv.length; i++) {
        if (Math.abs(gv[i]) < 1e-5) continue;
        const want = pv[i] * (1 - 1e-4) - 1e-3 * Math.sign(gv[i]);
        worst = Math.max(worst, Math.abs(av[i] - want));
        checked++;
      }
      expect(worst, n).toBeLessThan(1e-6);
    }
    expect(checked).toBeGreaterThan(10000);
  });
});

describe('torch.save checkpoints: flow network and synthetic layouts', () => {
  it('reads the flow-matching fixture with the npz parameter names', () => {
    const sd = stateDict(readTorch(bytesOf(join(shared, 'flow_c32_m12_s32.pt')), 'flow.pt'));
    const npz = readNpz(bytesOf(join(shared, 'flow_c32_m12_s32.npz')));
    const names = npz.get('param_names')!.data as string[];
    expect(new Set(names)).toEqual(new Set(sd.canonical));
    expect(sd.aliases.size).toBe(0);
    for (const n of names) expect(sd.tensors.get(n)!.shape, n).toEqual(npz.get(`grad.${n}`)!.shape);
    expect(sd.tensors.get('label_emb.weight')!.shape[0]).toBe(24); // 24 flow classes
  });

  for (const file of ['lightning_p2.pt', 'lightning_p4.pt']) {
    it(`${file}: Lightning dict, model. prefix, views, dtypes, optimizer state`, () => {
      const ckpt = readTorch(bytesOf(join(local, file)), file);
      const root = ckpt.root as Map<string, unknown>;
      expect(root.get('epoch')).toBe(3);
      expect(root.get('global_step')).toBe(120);
      expect(root.get('pytorch-lightning_version')).toBe('2.4.0');
      expect(root.get('big')).toBe(2n ** 70n);
      expect(root.get('neg')).toBe(-5);
      expect(root.get('ratio')).toBe(0.25);
      expect(root.get('flag')).toBe(true);
      expect(Array.from(root.get('blob') as Uint8Array)).toEqual([0, 255, 97, 98]);
      const sd = stateDict(ckpt);
      expect(sd.foundAt).toBe('state_dict');
      expect(sd.strippedPrefix).toBe('model.');
      expect(sd.extra.get('epoch')).toBe(3);
      const w = Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
      const get = (k: string) => sd.tensors.get(k)!;
      expect(Array.from(get('conv.weight').data as Float32Array)).toEqual(w);
      // transposed view (4,3,2) with strides (1,4,12): element [a,b,c] = w[a + 4b + 12c]
      const t = get('conv.weight_t');
      expect(t.contiguous).toBe(false);
      const tv = t.data as Float32Array;
      for (let a = 0; a < 4; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 2; c++) expect(tv[a * 6 + b * 2 + c]).toBe(w[a + 4 * b + 12 * c]);
      expect(Array.from(get('tail').data as Float32Array)).toEqual(w.slice(20, 24));
      expect(get('scalar').shape).toEqual([]);
      expect(Array.from(get('scalar').data as Float32Array)).toEqual([w[5]]);
      expect(get('param').requiresGrad).toBe(true);
      expect(sd.aliases.get('alias.weight')).toBe('conv.weight');
      expect(sd.aliases.has('conv.weight_t')).toBe(false); // shares storage, but a different view
      expect(Array.from(toFloat32(get('half')))).toEqual([1, -2, 0.5, 65504]);
      expect(get('bf16').dtype).toBe('bfloat16');
      expect(Array.from(toFloat32(get('bf16')))).toEqual([1, -2, 0.5]);
      expect(Array.from(get('steps').data as BigInt64Array)).toEqual([7n, -(2n ** 40n)]);
      expect(get('mask').dtype).toBe('bool');
      expect(Array.from(get('u8').data as Uint8Array)).toEqual([0, 128, 255]);
      expect(Array.from(get('f64').data as Float64Array)).toEqual([Math.PI, -1e300]);
      const opt = (root.get('optimizer_states') as unknown[])[0] as Map<string, unknown>;
      const state0 = (opt.get('state') as Map<unknown, unknown>).get(0) as Map<string, unknown>;
      expect(state0.get('exp_avg')).toBeInstanceOf(TorchTensor);
      const pg = (opt.get('param_groups') as Map<string, unknown>[])[0];
      expect(pg.get('lr')).toBe(0.001);
      expect(pg.get('betas')).toBeInstanceOf(PyTuple);
      expect(Array.from(pg.get('betas') as number[])).toEqual([0.9, 0.999]);
      expect(pg.get('foreach')).toBe(null);
      const plain = toPlain(opt) as { param_groups: { weight_decay: number }[] };
      expect(plain.param_groups[0].weight_decay).toBe(0.1);
      // helpers
      const flat = flattenTensors(root);
      expect(flat.has('state_dict.model.conv.weight')).toBe(true);
      expect(flat.has('optimizer_states')).toBe(false); // lists are not walked
      expect([...stripPrefix(new Map([['model.a', 1], ['b', 2]]), 'model.').keys()]).toEqual(['a', 'b']);
    });
  }

  it('big-endian storages are byte-swapped', () => {
    const sd = stateDict(readTorch(bytesOf(join(local, 'bare_be.pt')), 'bare_be.pt'));
    expect(Array.from(sd.tensors.get('a')!.data as Float32Array)).toEqual(Array.from({ length: 24 }, (_, i) => i * 0.5 - 3));
    expect(Array.from(sd.tensors.get('b')!.data as Float64Array)).toEqual([Math.PI, -1e300]);
  });
});

describe('torch.save checkpoints: malformed files give one clear line', () => {
  const good = bytesOf(join(shared, 'dynunet_small.pt'));
  it('not a zip', () => {
    expect(errLine(() => readTorch(new TextEncoder().encode('hello world, not a checkpoint'), 'x.pt'))).toBe('x.pt: not a PyTorch checkpoint (not a zip archive)');
    expect(errLine(() => readTorch(Uint8Array.from([0x80, 2, 0x8a, 0x0a]), 'old.pt'))).toMatch(/legacy \(pre-1\.6/);
  });
  it('truncated file', () => {
    expect(errLine(() => readTorch(good.subarray(0, good.length >> 1), 'half.pt'))).toMatch(/^half\.pt: truncated zip archive/);
    expect(errLine(() => readTorch(good.subarray(0, 100), 'tiny.pt'))).toMatch(/^tiny\.pt: truncated zip archive/);
  });
  it('corrupt storage bytes (CRC)', () => {
    const z = readZip(good);
    const c = good.slice();
    c[z.byName.get('dynunet_small/data/7')!.dataOffset + 3] ^= 0x55;
    expect(errLine(() => readTorch(c, 'bad.pt'))).toMatch(/CRC mismatch in "dynunet_small\/data\/7"/);
  });
  it('missing data.pkl, missing storage, unsupported storage dtype', () => {
    const z = readZip(good);
    const members = z.entries.filter((e) => !e.name.endsWith('data.pkl')).map((e) => ({ name: e.name, data: good.subarray(e.dataOffset, e.dataOffset + e.size) }));
    expect(errLine(() => readTorch(writeZip(members), 'nopkl.pt'))).toBe('nopkl.pt: not a PyTorch checkpoint (no data.pkl in the archive)');
    expect(errLine(() => readTorch(bytesOf(join(local, 'missing_storage.pt')), 'm.pt'))).toBe("m.pt: missing storage 'archive/data/0' (referenced by data.pkl)");
    expect(errLine(() => readTorch(bytesOf(join(local, 'complex.pt')), 'c.pt'))).toBe("c.pt: unsupported storage dtype 'torch.ComplexFloatStorage' for storage '0'");
  });
  it('truncated pickle and an unsupported opcode (named)', () => {
    const z = readZip(good);
    const pkl = z.byName.get('dynunet_small/data.pkl')!;
    const rest = z.entries.filter((e) => e !== pkl).map((e) => ({ name: e.name, data: good.subarray(e.dataOffset, e.dataOffset + e.size) }));
    const cut = writeZip([{ name: 'dynunet_small/data.pkl', data: good.subarray(pkl.dataOffset, pkl.dataOffset + 1000) }, ...rest]);
    expect(errLine(() => readTorch(cut, 'cut.pt'))).toMatch(/^cut\.pt:dynunet_small\/data\.pkl: truncated pickle/);
    const ext = writeZip([{ name: 'a/data.pkl', data: Uint8Array.from([0x80, 2, 0x82, 1, 0x2e]) }]);
    expect(errLine(() => readTorch(ext, 'ext.pt'))).toBe('ext.pt:a/data.pkl: unsupported pickle opcode EXT1 at byte 2');
  });
  it('no state_dict in the object', () => {
    const only = writeZip([{ name: 'a/data.pkl', data: Uint8Array.from([0x80, 2, 0x4b, 7, 0x2e]) }]);
    const c = readTorch(only, 'int.pt');
    expect(c.root).toBe(7);
    expect(errLine(() => stateDict(c, 'int.pt'))).toMatch(/no state_dict found/);
  });
});

describe('pickle VM', () => {
  it('protocol 0 text opcodes', () => {
    // (dp0\nS'a'\np1\nI1\nsS'b'\np2\n(lp3\nF1.5\naI01\nas.   == {'a': 1, 'b': [1.5, True]}
    const text = "(dp0\nS'a'\np1\nI1\nsS'b'\np2\n(lp3\nF1.5\naI01\nas.";
    const v = unpickle(new TextEncoder().encode(text)) as Map<string, unknown>;
    expect(v.get('a')).toBe(1);
    expect(v.get('b')).toEqual([1.5, true]);
  });
});
