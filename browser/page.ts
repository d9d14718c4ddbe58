// The browser test page: an Engine on navigator.gpu running the check cases of browser/cases.ts.
// The test calls window.vesselfmPage.run(cases) through Playwright; opened by hand the page runs defaultCases().
import { createEngine } from '../src/browser.js';
import type { Engine } from '../src/engine.js';
import { defaultCases, runCases, type CheckCase, type CheckResult } from './cases.js';

export interface PageInfo {
  userAgent: string;
  adapter: Engine['gpu']['info'];
  features: string[];
  /** The limits the engine's device got (it asks for the adapter's maximum). */
  limits: Record<string, number>;
  /** The adapter's own limits, to check that the engine picked them up. */
  adapterLimits: Record<string, number>;
}

export interface VesselfmPage {
  info(): Promise<PageInfo>;
  run(cases: CheckCase[]): Promise<CheckResult[]>;
}

let engine: Promise<Engine> | null = null;
const getEngine = () => (engine ??= createEngine());

function limitsOf(l: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in l) {
    const v = (l as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

const page: VesselfmPage = {
  async info() {
    const e = await getEngine();
    return {
      userAgent: navigator.userAgent,
      adapter: e.gpu.info,
      features: [...e.gpu.features].sort(),
      limits: { ...e.gpu.limits },
      adapterLimits: limitsOf(e.gpu.adapter.limits),
    };
  },
  async run(cases) {
    return runCases(await getEngine(), cases);
  },
};

const w = window as unknown as { vesselfmPage: VesselfmPage; vesselfmPageReady: boolean };
w.vesselfmPage = page;
w.vesselfmPageReady = true;

// Opened by hand (no driver has set ?driven): run the default cases and show the results.
if (!new URLSearchParams(location.search).has('driven')) {
  const out = document.getElementById('out');
  const show = (s: string) => {
    if (out) out.textContent = s;
  };
  (async () => {
    try {
      const info = await page.info();
      const res = await page.run(defaultCases());
      // Judged against the float64 references only (the Node comparison needs the test).
      const bad = (r: CheckResult) => r.error !== undefined || (r.refErr !== undefined && !(r.refErr <= (r.exact ? 0 : Math.max(r.tol ?? 0, 1e-4))));
      const lines = res.map(
        (r) => `${bad(r) ? 'FAIL' : 'ok  '} ${r.name} ${r.ms.toFixed(1)} ms${r.refErr !== undefined ? ` err ${r.refErr.toExponential(2)}` : ''}${r.error ? ` ${r.error}` : ''}`,
      );
      show([`adapter: ${info.adapter.vendor} ${info.adapter.architecture} ${info.adapter.description}`, ...lines].join('\n'));
    } catch (err) {
      show(`error: ${(err as Error).message}`);
    }
  })();
}
