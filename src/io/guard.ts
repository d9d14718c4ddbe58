// A last line of defence for the readers: an out-of-bounds read or an impossible allocation caused by a damaged
// file (RangeError, TypeError) becomes a one-line VesselError naming the file, never a stack trace.
import { VesselError } from '../gpu/errors.js';

export function guarded<T>(label: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VesselError) throw e;
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new VesselError(`${label}: corrupt or damaged ${what} (${String(e.message).split('\n')[0]})`);
    }
    throw e;
  }
}
