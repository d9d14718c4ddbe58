// WGSL sources are imported as plain strings (esbuild loader "text" and a vitest plugin do the same thing).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
