// A small autotuner for any kernel family. Kernel calls are synchronous (they record work), so the choice is
// made in two steps: `choose()` returns the cached winner for (adapter, kernel, shape class), or a forced variant,
// or the caller's heuristic default; `tune()` (async) times every candidate once with GPU timestamps, caches
// the fastest and returns it. Callers tune ahead of time (a model's first step, a benchmark), then every later
// call is a cache hit.
import type { Engine } from '../src/engine.js';
import { VesselError } from '../src/gpu/errors.js';

export interface Candidate<C> {
  /** Stable name, e.g. "reg8x4"; what forceVariant() and the cache store. */
  name: string;
  config: C;
}

export interface TuneRecord {
  kernel: string;
  shapeClass: string;
  winner: string;
  /** Milliseconds per candidate (Infinity for a candidate that failed). */
  times: Record<string, number>;
}

export type TuneMode = 'tune' | 'heuristic';

const cache = new Map<string, string>();
const records = new Map<string, TuneRecord>();
const forced = new Map<string, string>();
let mode: TuneMode = 'tune';

function adapterKey(engine: Engine): string {
  const i = engine.gpu.info;
  return `${i.vendor}/${i.architecture}/${i.device}/${i.description}`;
}

function key(engine: Engine, kernel: string, shapeClass: string): string {
  return `${adapterKey(engine)}|${kernel}|${shapeClass}`;
}

/** 'heuristic' turns tuning off: tune() then returns the heuristic default without timing anything. */
export function setTuneMode(m: TuneMode): void {
  mode = m;
}

export function tuneMode(): TuneMode {
  return mode;
}

/** Force a variant by name for one kernel family (tests use this to check every variant); null clears it. */
export function forceVariant(kernel: string, name: string | null): void {
  if (name === null) forced.delete(kernel);
  else forced.set(kernel, name);
}

export function clearTuneCache(): void {
  cache.clear();
  records.clear();
}

/** Every tuning decision made so far in this process (for benchmark reports). */
export function tuneRecords(): TuneRecord[] {
  return [...records.values()];
}

/** log2 bucket of a size, for shape classes ("v2^15"). */
export function sizeBucket(n: number): number {
  return n <= 1 ? 0 : Math.round(Math.log2(n));
}

function byName<C>(kernel: string, candidates: Candidate<C>[], name: string): Candidate<C> {
  const c = candidates.find((x) => x.name === name);
  if (!c) {
    throw new VesselError(`${kernel}: no variant "${name}" for this shape (available: ${candidates.map((x) => x.name).join(', ')})`);
  }
  return c;
}

/** The variant to use now: forced, else cached winner, else `fallback` (a name among the candidates). */
export function choose<C>(engine: Engine, kernel: string, shapeClass: string, candidates: Candidate<C>[], fallback: string): Candidate<C> {
  const f = forced.get(kernel);
  if (f) return byName(kernel, candidates, f);
  const hit = cache.get(key(engine, kernel, shapeClass));
  if (hit) {
    const c = candidates.find((x) => x.name === hit);
    if (c) return c;
  }
  return byName(kernel, candidates, fallback);
}

/**
 * Time `run(candidate)` for every candidate (one warm-up, then one timed run each), then time the contenders within
 * CONTEND of the best twice more, interleaved, keeping each one's fastest run (one run decides badly on a busy or
 * jittery machine); cache and return the fastest. `run` records GPU work and must not read back. A candidate whose
 * run throws is skipped.
 */
/** Candidates within this factor of the fastest first run are timed again; at most MAX_CONTENDERS of them. */
const CONTEND = 1.3;
const MAX_CONTENDERS = 4;

export async function tune<C>(
  engine: Engine,
  kernel: string,
  shapeClass: string,
  candidates: Candidate<C>[],
  fallback: string,
  run: (c: Candidate<C>) => void,
): Promise<Candidate<C>> {
  const f = forced.get(kernel);
  if (f) return byName(kernel, candidates, f);
  const k = key(engine, kernel, shapeClass);
  const hit = cache.get(k);
  if (hit) {
    const c = candidates.find((x) => x.name === hit);
    if (c) return c;
  }
  if (mode === 'heuristic' || candidates.length === 1) return byName(kernel, candidates, fallback);
  const times: Record<string, number> = {};
  let best: Candidate<C> | null = null;
  let bestMs = Infinity;
  for (const c of candidates) {
    let ms = Infinity;
    try {
      engine.scope(() => run(c)); // warm-up: builds the pipeline, touches the buffers
      await engine.sync();
      ms = await engine.rt.time(() => engine.scope(() => run(c)));
    } catch {
      ms = Infinity;
    }
    times[c.name] = ms;
    if (ms < bestMs) {
      bestMs = ms;
      best = c;
    }
  }
  const contenders = candidates.filter((c) => times[c.name] <= CONTEND * bestMs).sort((a, b) => times[a.name] - times[b.name]).slice(0, MAX_CONTENDERS);
  if (contenders.length > 1) {
    for (let round = 0; round < 2; round++) {
      for (const c of contenders) {
        const ms = await engine.rt.time(() => engine.scope(() => run(c)));
        times[c.name] = Math.min(times[c.name], ms);
        if (ms < bestMs) {
          bestMs = ms;
          best = c;
        }
      }
    }
  }
  const winner = best ?? byName(kernel, candidates, fallback);
  cache.set(k, winner.name);
  records.set(k, { kernel, shapeClass, winner: winner.name, times });
  return winner;
}
