// `vesselfm convert <in> <out>`: PyTorch checkpoints to our safetensors format, and volumes between image formats.
import type { Command } from 'commander';
import { VesselError } from '../src/gpu/errors.js';
import { convertTorchToSafetensors, loadWeights } from '../src/io/checkpoint.js';
import { readVolume, writeVolume, castVolume, formatOf, splitArrayName, SUPPORTED_EXTENSIONS, type VolumeDtype } from '../src/io/volume.js';
import { writeNpz } from '../src/io/npz.js';
import { writeBytesAtomic } from '../src/io/files.js';
import { toFloat32 } from '../src/io/tensors.js';
import type { NpyWriteInput } from '../src/io/npy.js';
import { jsonLine } from './common.js';

const CHECKPOINT = /\.(pt|pth|ckpt|bin)$/i;
const SAFETENSORS = /\.safetensors$/i;
const DTYPES: VolumeDtype[] = ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'];

interface ConvertOptions {
  json?: boolean;
  compression?: string;
  dtype?: string;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function registerConvert(program: Command): void {
  program
    .command('convert <input> <output>')
    .description(
      'convert a PyTorch checkpoint (.pt/.pth/.ckpt: bare state_dict, model.-prefixed or Lightning) to safetensors ' +
        '(+ <output>.json sidecar with step/config/optimizer state; shared-storage aliases such as skip_layers.* dropped), ' +
        `or a checkpoint to .npz, or a volume between image formats keeping its geometry (${SUPPORTED_EXTENSIONS})`,
    )
    .option('--compression <kind>', 'volumes: none | deflate (TIFF, MetaImage zlib; .nii.gz always gzips)')
    .option('--dtype <type>', `volumes: convert the voxel type (${DTYPES.join(', ')}); floats are rounded and clamped`)
    .option('--json', 'print one JSON summary line')
    .action((input: string, output: string, opts: ConvertOptions) => {
      if (CHECKPOINT.test(input) || SAFETENSORS.test(input)) return convertCheckpoint(input, output, opts);
      if (CHECKPOINT.test(output) && !CHECKPOINT.test(input)) throw new VesselError(`${output}: writing PyTorch .pt files is not supported (write .safetensors)`);
      return convertVolume(input, output, opts);
    });
}

function convertCheckpoint(input: string, output: string, opts: ConvertOptions): void {
  if (SAFETENSORS.test(output)) {
    if (SAFETENSORS.test(input)) throw new VesselError(`${input}: already safetensors`);
    const s = convertTorchToSafetensors(input, output);
    if (opts.json) jsonLine({ input, output, ...s });
    else {
      const where = s.foundAt ? ` (from '${s.foundAt}'${s.strippedPrefix ? `, prefix '${s.strippedPrefix}' removed` : ''})` : s.strippedPrefix ? ` (prefix '${s.strippedPrefix}' removed)` : '';
      process.stdout.write(
        `${output}: ${s.tensors} tensors, ${s.parameters.toLocaleString('en-US')} values, ${mb(s.bytes)}${where}; ${s.aliasesDropped} ${s.aliasesDropped === 1 ? 'alias' : 'aliases'} dropped` +
          `${s.sidecar ? `; sidecar ${s.sidecar}` : ''}${s.optimizerTensors ? `; optimizer tensors ${s.optimizerTensors}` : ''}\n`,
      );
    }
    return;
  }
  if (/\.npz$/i.test(output)) {
    const w = loadWeights(input);
    const arrays: Record<string, NpyWriteInput> = {};
    for (const [k, t] of w.tensors) {
      if (t.dtype === 'float16') arrays[k] = { data: new Float32Array(0), raw: t.data as Uint16Array, shape: t.shape, dtype: 'float16' };
      else if (t.dtype === 'bfloat16') arrays[k] = { data: toFloat32(t), shape: t.shape };
      else if (t.dtype === 'int64') arrays[k] = { data: t.data as BigInt64Array, shape: t.shape };
      else if (t.dtype === 'bool') arrays[k] = { data: t.data as Uint8Array, shape: t.shape, dtype: 'bool' };
      else arrays[k] = { data: t.data as Float32Array, shape: t.shape };
    }
    writeBytesAtomic(output, writeNpz(arrays, { compress: true }));
    if (opts.json) jsonLine({ input, output, tensors: w.tensors.size, aliasesDropped: w.aliases.size });
    else process.stdout.write(`${output}: ${w.tensors.size} arrays${w.aliases.size ? `; ${w.aliases.size} aliases dropped` : ''}\n`);
    return;
  }
  throw new VesselError(`${output}: a checkpoint converts to .safetensors or .npz`);
}

function convertVolume(input: string, output: string, opts: ConvertOptions): void {
  if (!formatOf(splitArrayName(input).file)) throw new VesselError(`${input}: unknown file extension (checkpoints: .pt, .pth, .ckpt; volumes: ${SUPPORTED_EXTENSIONS})`);
  if (!formatOf(splitArrayName(output).file)) throw new VesselError(`${output}: unknown file extension (volumes: ${SUPPORTED_EXTENSIONS}; checkpoints: .safetensors, .npz)`);
  if (opts.compression && opts.compression !== 'none' && opts.compression !== 'deflate') throw new VesselError(`--compression must be none or deflate, not '${opts.compression}'`);
  let vol = readVolume(input);
  if (opts.dtype) {
    if (!DTYPES.includes(opts.dtype as VolumeDtype)) throw new VesselError(`--dtype must be one of ${DTYPES.join(', ')}, not '${opts.dtype}'`);
    vol = castVolume(vol, opts.dtype as VolumeDtype);
  }
  writeVolume(output, vol, vol, { compression: opts.compression as 'none' | 'deflate' | undefined });
  const summary = { input, output, shape: vol.shape, dtype: vol.dtype, spacing: vol.spacing, origin: vol.origin, direction: vol.direction };
  if (opts.json) jsonLine(summary);
  else process.stdout.write(`${output}: [${vol.shape.join(', ')}] ${vol.dtype}, spacing (z, y, x) ${vol.spacing.map((s) => +s.toPrecision(6)).join(' × ')}\n`);
}
