// NumPy .npz archives (np.savez / np.savez_compressed): a zip of .npy members, stored or deflated.
// Browser-safe (Uint8Array in, Uint8Array out); see files.ts for the Node file wrappers.
import { VesselError } from '../gpu/errors.js';
import { guarded } from './guard.js';
import { readZip, zipRead, writeZip } from './zip.js';
import { readNpy, writeNpy, type NpyArray, type NpyWriteInput } from './npy.js';

function memberName(zipName: string): string {
  return zipName.endsWith('.npy') ? zipName.slice(0, -4) : zipName;
}

/** All arrays of an .npz, keyed by name without the `.npy` suffix, in archive order. */
export function readNpz(bytes: Uint8Array, label = 'npz'): Map<string, NpyArray> {
  return guarded(label, '.npz archive', () => readNpzUnguarded(bytes, label));
}

function readNpzUnguarded(bytes: Uint8Array, label = 'npz'): Map<string, NpyArray> {
  const zip = readZip(bytes, label);
  const out = new Map<string, NpyArray>();
  for (const e of zip.entries) {
    if (e.name.endsWith('/')) continue;
    const name = memberName(e.name);
    out.set(name, readNpy(zipRead(zip, e), `${label}:${name}`));
  }
  return out;
}

/** The member names of an .npz without decoding any array. */
export function listNpz(bytes: Uint8Array, label = 'npz'): string[] {
  return readZip(bytes, label)
    .entries.filter((e) => !e.name.endsWith('/'))
    .map((e) => memberName(e.name));
}

/** One array of an .npz (decodes only that member). */
export function readNpzArray(bytes: Uint8Array, name: string, label = 'npz'): NpyArray {
  return guarded(label, '.npz archive', () => readNpzArrayUnguarded(bytes, name, label));
}

function readNpzArrayUnguarded(bytes: Uint8Array, name: string, label = 'npz'): NpyArray {
  const zip = readZip(bytes, label);
  const e = zip.byName.get(name + '.npy') ?? zip.byName.get(name);
  if (!e) {
    const names = zip.entries.map((x) => memberName(x.name));
    const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} in all)` : '');
    throw new VesselError(`${label}: no array named '${name}' (has ${shown})`);
  }
  return readNpy(zipRead(zip, e), `${label}:${name}`);
}

/** Write arrays as an .npz; `compress` gives np.savez_compressed's deflated members. */
export function writeNpz(
  arrays: Map<string, NpyWriteInput | NpyArray> | Record<string, NpyWriteInput | NpyArray>,
  options: { compress?: boolean } = {},
): Uint8Array {
  const entries = arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays);
  return writeZip(entries.map(([name, a]) => ({ name: name + '.npy', data: writeNpy(a), compress: !!options.compress })));
}
