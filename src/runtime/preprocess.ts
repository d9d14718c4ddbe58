// Shader specialisation: WGSL files contain `${NAME}` placeholders and `#if ${NAME}` … `#elif` … `#else` … `#endif`
// blocks, which wgsl-preprocessor resolves exactly as it would for a tagged template literal.
// @ts-expect-error the package ships no types
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

export type Defines = Record<string, string | number | boolean>;

const PLACEHOLDER = /\$\{(\w+)\}/g;

export function preprocess(source: string, defines: Defines, name = 'shader'): string {
  const strings: string[] = [];
  const values: unknown[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    strings.push(source.slice(last, m.index));
    const key = m[1];
    if (!(key in defines)) throw new Error(`Shader ${name}: no value for \${${key}}`);
    values.push(defines[key]);
    last = m.index! + m[0].length;
  }
  strings.push(source.slice(last));
  const raw = Object.assign([...strings], { raw: strings });
  return (wgsl as (s: TemplateStringsArray, ...v: unknown[]) => string)(raw as unknown as TemplateStringsArray, ...values);
}

/** A stable key for a shader variant. */
export function variantKey(name: string, defines: Defines): string {
  const keys = Object.keys(defines).sort();
  return `${name}|${keys.map((k) => `${k}=${defines[k]}`).join(',')}`;
}
