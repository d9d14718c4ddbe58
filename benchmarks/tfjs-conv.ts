// The peer in the conv benchmark: TensorFlow.js's WebGPU backend running Conv3D and both Conv3D backprops on the
// same `webgpu` GPU object (so the same adapter) as the engine. Benchmark-only: @tensorflow/tfjs-core and
// @tensorflow/tfjs-backend-webgpu are devDependencies, imported only when this runs. The kernels are called
// through tf.engine().runKernel (Conv3D, Conv3DBackpropInputV2, Conv3DBackpropFilterV2), which is what tfjs's own
// conv3d gradients call. Layout there is NDHWC with filters (kD, kH, kW, in, out).

export interface TfjsConvTimes {
  /** Wall milliseconds per pass (best of `reps`), each ending in a scalar readback (tf.sum → data()). */
  fwd: number;
  dgrad: number;
  wgrad: number;
  /** Process CPU milliseconds during the best-wall run of each pass (Node only; 0 elsewhere). */
  cpuMs: { fwd: number; dgrad: number; wgrad: number };
  version: string;
}

function cpuNow(): number {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!p?.cpuUsage) return 0;
  const u = p.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface TfLike {
  version_core?: string;
  version?: Record<string, string>;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  randomUniform(shape: number[], min?: number, max?: number): unknown;
  conv3d(x: unknown, w: unknown, strides: number[], pad: string | number): unknown;
  sum(x: unknown): { data(): Promise<unknown>; dispose(): void };
  dispose(x: unknown): void;
  engine(): { runKernel(name: string, inputs: Record<string, unknown>, attrs: Record<string, unknown>): unknown; reset(): void };
}

let loaded: Promise<TfLike> | null = null;

/** Load tfjs with its WebGPU backend bound to `gpu` (the engine's GPU object). */
export function loadTfjs(gpu: GPU): Promise<TfLike> {
  loaded ??= (async () => {
    const g = globalThis as unknown as { navigator?: { gpu?: GPU } };
    if (!g.navigator?.gpu) {
      Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu }, configurable: true, writable: true });
    }
    // tfjs reads the WebGPU constant namespaces (GPUBufferUsage, GPUMapMode, …) from globalThis, which browsers
    // define and Node does not: take them from the `webgpu` package without overwriting anything present.
    if (typeof (globalThis as Record<string, unknown>).GPUBufferUsage === 'undefined') {
      const dawn = 'webgpu';
      const m = (await import(/* @vite-ignore */ dawn)) as { globals?: Record<string, unknown> };
      for (const [k, v] of Object.entries(m.globals ?? {})) {
        if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
      }
    }
    const core = 'tfjs-core';
    const backend = 'tfjs-backend-webgpu';
    // Module names are built at run time so bundlers leave this benchmark-only dependency out.
    const tf = (await import(/* @vite-ignore */ `@tensorflow/${core}`)) as unknown as TfLike;
    await import(/* @vite-ignore */ `@tensorflow/${backend}`);
    const ok = await tf.setBackend('webgpu');
    await tf.ready();
    if (!ok || tf.getBackend() !== 'webgpu') throw new Error('tfjs could not start its WebGPU backend');
    return tf;
  })();
  return loaded;
}

/**
 * Time tfjs Conv3D forward, input gradient and weight gradient for x (1, D, D, D, cin), filter 3×3×3 cin→cout,
 * stride 1, 'same' padding (= padding 1).
 */
export async function tfjsConv3dTimes(gpu: GPU, d: number, cin: number, cout: number, reps: number): Promise<TfjsConvTimes> {
  const tf = await loadTfjs(gpu);
  const x = tf.randomUniform([1, d, d, d, cin], -1, 1);
  const w = tf.randomUniform([3, 3, 3, cin, cout], -1, 1);
  const dy = tf.randomUniform([1, d, d, d, cout], -1, 1);
  const strides = [1, 1, 1, 1, 1];
  const passes: Record<'fwd' | 'dgrad' | 'wgrad', () => unknown> = {
    fwd: () => tf.conv3d(x, w, [1, 1, 1], 'same'),
    dgrad: () => tf.engine().runKernel('Conv3DBackpropInputV2', { dy, filter: w }, { strides, pad: 'same', inputShape: [1, d, d, d, cin] }),
    wgrad: () => tf.engine().runKernel('Conv3DBackpropFilterV2', { x, dy }, { strides, pad: 'same', filterShape: [3, 3, 3, cin, cout] }),
  };
  const out = { fwd: Infinity, dgrad: Infinity, wgrad: Infinity };
  const cpuMs = { fwd: 0, dgrad: 0, wgrad: 0 };
  try {
    for (const k of ['fwd', 'dgrad', 'wgrad'] as const) {
      for (let r = 0; r <= reps; r++) {
        const c0 = cpuNow();
        const t0 = performance.now();
        const y = passes[k]();
        const s = tf.sum(y);
        await s.data();
        const ms = performance.now() - t0;
        const cpu = cpuNow() - c0;
        s.dispose();
        tf.dispose(y);
        // r = 0 compiles the pipelines.
        if (r > 0 && ms < out[k]) {
          out[k] = ms;
          cpuMs[k] = cpu;
        }
      }
    }
  } finally {
    tf.dispose([x, w, dy]);
  }
  const version = tf.version_core ?? tf.version?.['tfjs-core'] ?? 'unknown';
  return { ...out, cpuMs, version };
}
