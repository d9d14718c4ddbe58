import { describe, expect, it } from 'vitest';
import { Conv3d, ConvTranspose3d, Embedding, GroupNorm, InstanceNorm3d, Linear, Module, ModuleList, Generator, manualSeed } from '../../src/nn/index.js';
import type { Engine } from '../../src/engine.js';
import { getEngine } from '../helpers.js';

class Block extends Module {
  conv1: Conv3d;
  norm1: InstanceNorm3d;
  constructor(e: Engine) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv3d(e, 2, 4, 3, { padding: 1, bias: false }));
    this.norm1 = this.registerModule('norm1', new InstanceNorm3d(e, 4));
  }
}

class Net extends Module {
  first: Block;
  downs: ModuleList<Block>;
  constructor(e: Engine) {
    super();
    this.first = this.registerModule('first', new Block(e));
    this.downs = this.registerModule('downs', new ModuleList([new Block(e), new Block(e)]));
    // an alias path to the same module, like MONAI's skip_layers
    this.registerModule('alias', this.downs.at(1));
  }
}

function stats(v: ArrayLike<number>) {
  let m = 0;
  for (let i = 0; i < v.length; i++) m += v[i];
  m /= v.length;
  let s = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    s += (v[i] - m) ** 2;
    lo = Math.min(lo, v[i]);
    hi = Math.max(hi, v[i]);
  }
  return { mean: m, std: Math.sqrt(s / v.length), lo, hi };
}

describe('nn.Module', () => {
  it('names parameters with PyTorch dots, each once; the state dict keeps aliases', async () => {
    const e = await getEngine();
    const net = new Net(e);
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'first.conv1.weight',
      'first.norm1.weight',
      'first.norm1.bias',
      'downs.0.conv1.weight',
      'downs.0.norm1.weight',
      'downs.0.norm1.bias',
      'downs.1.conv1.weight',
      'downs.1.norm1.weight',
      'downs.1.norm1.bias',
    ]);
    const sd = net.stateDict();
    expect([...sd.keys()].slice(-3)).toEqual(['alias.conv1.weight', 'alias.norm1.weight', 'alias.norm1.bias']);
    expect(sd.get('alias.conv1.weight')).toBe(sd.get('downs.1.conv1.weight'));
    expect(net.numParameters()).toBe(3 * (4 * 2 * 27 + 8));
    net.eval();
    expect(net.downs.at(0).training).toBe(false);
    net.train();
    expect(net.first.norm1.training).toBe(true);
    net.dispose();
  });

  it('loads a state dict and names missing, unexpected and mis-shaped keys', async () => {
    const e = await getEngine();
    const a = new Block(e);
    const b = new Block(e);
    b.loadStateDict(a.stateDict());
    expect(Array.from(await b.conv1.weight.read())).toEqual(Array.from(await a.conv1.weight.read()));
    const rec = { dtype: 'float32' as const, shape: [4], data: new Float32Array([1, 2, 3, 4]) };
    b.loadStateDict({ 'conv1.weight': a.conv1.weight, 'norm1.weight': rec, 'norm1.bias': rec });
    expect(Array.from(await b.norm1.weight.read())).toEqual([1, 2, 3, 4]);
    expect(() => b.loadStateDict({ 'conv1.weight': a.conv1.weight, 'norm1.weight': rec, 'norm1.bias': rec, extra: rec })).toThrow(
      /unexpected keys: extra/,
    );
    expect(() => b.loadStateDict({ 'conv1.weight': a.conv1.weight })).toThrow(/missing keys: norm1.weight, norm1.bias/);
    expect(() => b.loadStateDict({ 'conv1.weight': a.conv1.weight, 'norm1.weight': { ...rec, shape: [2, 2] }, 'norm1.bias': rec })).toThrow(
      'loadStateDict: norm1.weight has shape [2, 2] in the state dict but [4] in the model',
    );
    a.dispose();
    b.dispose();
  });

  it('initialises like PyTorch: Kaiming-uniform(a=√5) bounds, norms 1/0, embedding N(0, 1), reproducibly', async () => {
    const e = await getEngine();
    manualSeed(e, 404);
    const conv = new Conv3d(e, 16, 8, 3);
    const bound = 1 / Math.sqrt(16 * 27);
    const w = stats(await conv.weight.read());
    expect(w.lo).toBeGreaterThanOrEqual(-bound);
    expect(w.hi).toBeLessThan(bound);
    expect(w.hi).toBeGreaterThan(0.95 * bound);
    expect(Math.abs(w.std - bound / Math.sqrt(3)) / (bound / Math.sqrt(3))).toBeLessThan(0.05);
    const bb = stats(await conv.bias!.read());
    expect(Math.max(-bb.lo, bb.hi)).toBeLessThan(bound);
    // ConvTranspose3d: PyTorch's fan_in is weight.size(1)·k³ = out·k³
    const ct = new ConvTranspose3d(e, 6, 10, 2, { stride: 2 });
    const tb = 1 / Math.sqrt(10 * 8);
    const t = stats(await ct.weight.read());
    expect(t.hi).toBeLessThan(tb);
    expect(t.hi).toBeGreaterThan(0.9 * tb);
    const lin = new Linear(e, 64, 32);
    expect(stats(await lin.weight.read()).hi).toBeLessThan(1 / 8);
    const gn = new GroupNorm(e, 2, 6);
    expect(Array.from(await gn.weight.read())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(await gn.bias.read())).toEqual([0, 0, 0, 0, 0, 0]);
    const emb = stats(await new Embedding(e, 24, 256).weight.read());
    expect(Math.abs(emb.mean)).toBeLessThan(0.05);
    expect(Math.abs(emb.std - 1)).toBeLessThan(0.05);
    // same seed, same numbers; different generator seeds, different numbers
    manualSeed(e, 404);
    const again = new Conv3d(e, 16, 8, 3);
    expect(Array.from(await again.weight.read())).toEqual(Array.from(await conv.weight.read()));
    const other = new Conv3d(e, 16, 8, 3, { generator: new Generator(5) });
    expect(Array.from(await other.weight.read())).not.toEqual(Array.from(await conv.weight.read()));
  });
});
