// `vesselfm info`: the adapter, its features and limits.
import type { Command } from 'commander';
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
      if (opts.json) {
        process.stdout.write(
          JSON.stringify({ adapter: g.info, features: [...g.features].sort(), limits: g.limits }) + '\n',
        );
      } else if (opts.quiet) {
        process.stdout.write(`WebGPU adapter: ${describeAdapter(g.info)}\n`);
      } else {
        const lines = [
          `adapter:   ${describeAdapter(g.info)}${g.info.isFallbackAdapter ? ' [software fallback]' : ''}`,
          `features:  ${[...g.features].sort().join(', ') || '(none)'}`,
          `subgroups: ${g.hasSubgroups ? `${g.info.subgroupMinSize ?? '?'}–${g.info.subgroupMaxSize ?? '?'}` : 'no'}`,
          `subgroup-matrix: ${g.info.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ') || 'no'}`,
          'limits:',
          ...Object.entries(g.limits).map(([k, v]) => `  ${k.padEnd(44)} ${v}`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      e.destroy();
    });
}
