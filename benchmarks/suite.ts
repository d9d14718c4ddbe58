// The benchmark contract: every suite yields results; `vesselfm bench --json` prints each as one JSON line
// {"bench": name, "value": number, "unit": ..., ...context}.
import type { Engine } from '../src/engine.js';

export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  [context: string]: unknown;
}

export interface SuiteOptions {
  /** Smaller shapes and fewer repetitions (used by tests of the suites themselves). */
  quick?: boolean;
  /** Free-form size hint from the command line (e.g. --size 64). */
  size?: number;
}

export interface Suite {
  name: string;
  description: string;
  run(engine: Engine, opts: SuiteOptions): AsyncIterable<BenchResult>;
}
