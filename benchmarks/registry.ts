// Every benchmark suite the CLI knows. Add a suite by importing it here.
import type { Suite } from './suite.js';
import { drandSuite } from './drand.js';
import { convSuite } from './conv.js';
import { coreSuite } from './core.js';
import { opsSuite } from './ops.js';
import { segmenterSuite } from './segmenter.js';
import { flowSuite } from './flow.js';

export const suites: Suite[] = [coreSuite, drandSuite, convSuite, opsSuite, segmenterSuite, flowSuite];

export function findSuite(name: string): Suite | undefined {
  return suites.find((s) => s.name === name);
}
