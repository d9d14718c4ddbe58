// Every benchmark suite the CLI knows. Add a suite by importing it here.
import type { Suite } from './suite.js';

export const suites: Suite[] = [];

export function findSuite(name: string): Suite | undefined {
  return suites.find((s) => s.name === name);
}
