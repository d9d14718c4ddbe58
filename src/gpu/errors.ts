/** An error meant to be shown to a user as one line (the CLI prints `message` and exits non-zero). */
export class VesselError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VesselError';
  }
}

/** Raised when the GPU device is lost or reports a validation / out-of-memory error. */
export class GpuError extends VesselError {
  constructor(message: string) {
    super(message);
    this.name = 'GpuError';
  }
}

/** The one command that gives a CPU-only Debian/Ubuntu machine a WebGPU-capable (Vulkan) software driver. */
export const SOFTWARE_DRIVER_COMMAND = 'sudo bash scripts/install-software-gpu.sh';

export function noAdapterMessage(where: 'node' | 'browser'): string {
  if (where === 'browser') {
    return 'No WebGPU adapter: this browser has WebGPU disabled or no usable GPU (Chromium: start it with --enable-unsafe-webgpu).';
  }
  return (
    'No WebGPU adapter found (Dawn needs a Vulkan driver). On a machine without a GPU install the software driver ' +
    `(Mesa lavapipe from bookworm-backports) with: ${SOFTWARE_DRIVER_COMMAND}`
  );
}
