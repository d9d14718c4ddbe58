// `vesselfm info`: the adapter, its features and limits.
import type { Command } from 'commander';
import { convMmaShape } from '../kernels/conv3d.js';
import { describeAdapter } from '../src/gpu/device.js';
import { addDeviceOptions, engineFrom, type DeviceOptions } from './common.js';

export function registerInfo(program: Command): void {
  addDeviceOptions(program.command('info'))
    .description('print the WebGPU adapter, its features and limits')
    .option('--json', 'one JSON object')
    .option('--quiet', 'print only the adapter line (a quick check that WebGPU works)')
    .action(async (opts: DeviceOptions & { json?: boolean; quiet?: boolean }) => {
      const e = await engineFrom(opts);
      const g = e.gpu;
      // The conv3d tensor-core kernels this adapter can run (mixed precision picks them): subgroup-matrix shape.
      const mma = convMmaShape(e);
      if (opts.json) {
        process.stdout.write(
          JSON.stringify({ adapter: g.info, features: [...g.features].sort(), limits: g.limits, convTensorCores: mma }) + '\n',
        );
      } else if (opts.quiet) {
        process.stdout.write(`WebGPU adapter: ${describeAdapter(g.info)}\n`);
      } else {
        const lines = [
          `adapter:   ${describeAdapter(g.info)}${g.info.isFallbackAdapter ? ' [software fallback]' : ''}`,
          `features:  ${[...g.features].sort().join(', ') || '(none)'}`,
          `subgroups: ${g.hasSubgroups ? `${g.info.subgroupMinSize ?? '?'}–${g.info.subgroupMaxSize ?? '?'}` : 'no'}`,
          `subgroup-matrix: ${g.info.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ') || 'no'}`,
          `conv3d tensor cores: ${mma ? `mma${mma.ms} (f16 → f32, ${mma.ms}×${mma.ms}×${mma.ms}, subgroups of ${mma.sg}; used with f16 activations)` : 'no'}`,
          'limits:',
          ...Object.entries(g.limits).map(([k, v]) => `  ${k.padEnd(44)} ${v}`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      e.destroy();
    });
}
