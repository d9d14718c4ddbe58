// Shared CLI plumbing: engine creation from --adapter/--backend, one-line errors, JSON output.
import type { Command } from 'commander';
import { VesselError } from '../src/gpu/errors.js';
import { createEngine } from '../src/node.js';
import type { Engine } from '../src/engine.js';

export interface DeviceOptions {
  adapter?: string;
  backend?: string;
}

export function addDeviceOptions(cmd: Command): Command {
  return cmd
    .option('--adapter <name>', 'use the adapter whose name contains <name> (env VESSELFM_ADAPTER)')
    .option('--backend <name>', 'Dawn backend: vulkan, metal, d3d12, … (env VESSELFM_BACKEND)');
}

export async function engineFrom(opts: DeviceOptions): Promise<Engine> {
  return createEngine({ adapter: opts.adapter, backend: opts.backend });
}

/** Print one JSON object per line. */
export function jsonLine(obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

export async function runMain(program: Command): Promise<void> {
  try {
    await program.parseAsync(process.argv);
    process.exit(0);
  } catch (e) {
    const err = e as Error;
    const msg = err instanceof VesselError || process.env.VESSELFM_DEBUG !== '1' ? err.message : err.stack;
    process.stderr.write(`vesselfm: ${String(msg).split('\n')[0]}\n`);
    if (process.env.VESSELFM_DEBUG === '1' && err.stack) process.stderr.write(err.stack + '\n');
    process.exit(1);
  }
}

/** An integer option value ≥ min, or one line naming the option. */
export function int(v: string, name: string, min = 0): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new VesselError(`${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** A finite number option value, or one line naming the option. */
export function num(v: string, name: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new VesselError(`${name} must be a number, got "${v}"`);
  return n;
}
