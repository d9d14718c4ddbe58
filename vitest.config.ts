import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Import *.wgsl files as strings, exactly as the esbuild bundles (CLI and browser) do.
const wgslText = {
  name: 'wgsl-text',
  enforce: 'pre' as const,
  load(id: string) {
    if (id.endsWith('.wgsl')) return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
    return null;
  },
};

export default defineConfig({
  plugins: [wgslText],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // lavapipe already uses every core; one test file at a time keeps timings sane and memory low.
    fileParallelism: false,
    pool: 'forks',
  },
});
