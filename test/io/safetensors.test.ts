import { describe, it, expect } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { toFloat32, type TensorRecord, type TensorDtype } from '../../src/io/tensors.js';
import { VesselError } from '../../src/gpu/errors.js';

function errLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VesselError);
    expect((e as Error).message.includes('\n')).toBe(false);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

/** A file laid out by hand from the format description (independent of the writer). */
function handMade(): Uint8Array {
  const header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},"__metadata__":{"format":"pt"}}';
  const hb = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + hb.length + 20);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, hb.length, true);
  out.set(hb, 8);
  const base = 8 + hb.length;
  [1.5, -2, 0.25, 8].forEach((v, i) => dv.setFloat32(base + 4 * i, v, true));
  dv.setUint16(base + 16, 0x3c00, true); // 1.0
  dv.setUint16(base + 18, 0xc000, true); // -2.0
  return out;
}

describe('safetensors', () => {
  it('reads a hand-made file (unaligned header, F32 + F16, metadata)', () => {
    const f = readSafetensors(handMade());
    expect(f.metadata).toEqual({ format: 'pt' });
    expect([...f.tensors.keys()]).toEqual(['w', 'b']);
    expect(f.tensors.get('w')!.shape).toEqual([2, 2]);
    expect(Array.from(f.tensors.get('w')!.data as Float32Array)).toEqual([1.5, -2, 0.25, 8]);
    expect(Array.from(toFloat32(f.tensors.get('b')!))).toEqual([1, -2]);
  });
  it('round-trips every dtype, keeps order and metadata, aligns data to 8 bytes', () => {
    const t = (dtype: TensorDtype, shape: number[], data: TensorRecord['data']): TensorRecord => ({ dtype, shape, data });
    const tensors = new Map<string, TensorRecord>([
      ['input_block.conv1.conv.weight', t('float32', [2, 1, 3], Float32Array.from([1, 2, 3, 4, 5, -6.5]))],
      ['x.f16', t('float16', [3], Uint16Array.from([0x3c00, 0x7bff, 0x8001]))],
      ['x.bf16', t('bfloat16', [2], Uint16Array.from([0x3f80, 0xc040]))],
      ['x.f64', t('float64', [1], Float64Array.from([Math.E]))],
      ['x.i64', t('int64', [2], BigInt64Array.from([-(2n ** 62n), 5n]))],
      ['x.i32', t('int32', [2], Int32Array.from([-7, 2 ** 31 - 1]))],
      ['x.i16', t('int16', [1], Int16Array.from([-300]))],
      ['x.i8', t('int8', [1], Int8Array.from([-3]))],
      ['x.u8', t('uint8', [3], Uint8Array.from([0, 7, 255]))],
      ['x.bool', t('bool', [2, 1], Uint8Array.from([1, 0]))],
      ['x.empty', t('float32', [0, 4], new Float32Array(0))],
      ['x.scalar', t('float32', [], Float32Array.from([42]))],
    ]);
    const bytes = writeSafetensors(tensors, { step: '12', note: 'ünï' });
    const hlen = new DataView(bytes.buffer).getUint32(0, true);
    expect((8 + hlen) % 8).toBe(0);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ step: '12', note: 'ünï' });
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [k, v] of tensors) {
      const r = back.tensors.get(k)!;
      expect(r.dtype, k).toBe(v.dtype);
      expect(r.shape, k).toEqual(v.shape);
      expect(Array.from(r.data as ArrayLike<number>), k).toEqual(Array.from(v.data as ArrayLike<number>));
    }
    expect(Array.from(toFloat32(back.tensors.get('x.bf16')!))).toEqual([1, -3]);
  });
  it('malformed files give one clear line', () => {
    const good = handMade();
    expect(errLine(() => readSafetensors(good.subarray(0, 5), 'a.st'))).toBe('a.st: truncated safetensors file (5 bytes)');
    expect(errLine(() => readSafetensors(good.subarray(0, 40), 'b.st'))).toMatch(/^b\.st: truncated safetensors header/);
    expect(errLine(() => readSafetensors(good.subarray(0, good.length - 1), 'c.st'))).toMatch(/^c\.st: truncated safetensors data \(tensor 'b'/);
    expect(errLine(() => readSafetensors(new TextEncoder().encode('PK\x03\x04 this is a zip'), 'd.st'))).toMatch(/^d\.st: not a safetensors file/);
    const bad = good.slice();
    const at = Buffer.from(bad).indexOf('"F16"');
    bad.set(new TextEncoder().encode('"C64"'), at);
    expect(errLine(() => readSafetensors(bad, 'e.st'))).toBe("e.st: tensor 'b' has unsupported dtype 'C64'");
    const wrong = good.slice();
    wrong.set(new TextEncoder().encode('[2,3]'), Buffer.from(wrong).indexOf('[2,2]'));
    expect(errLine(() => readSafetensors(wrong, 'f.st'))).toMatch(/tensor 'w' has 16 bytes, shape \[2, 3\] float32 needs 24/);
    expect(errLine(() => writeSafetensors([['a', { dtype: 'float32', shape: [3], data: new Float32Array(2) }]]))).toMatch(/tensor 'a' has 2 elements/);
  });
});
