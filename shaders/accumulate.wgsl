// Gradient accumulation for autograd: acc += g in place, or out = a + b. T is f32 or f16.
${ENABLE_F16}
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
#if ${INPLACE}
@group(0) @binding(1) var<storage, read_write> acc: array<${T}>;
@group(0) @binding(2) var<storage, read> g: array<${T}>;
#else
@group(0) @binding(1) var<storage, read> a: array<${T}>;
@group(0) @binding(2) var<storage, read> b: array<${T}>;
@group(0) @binding(3) var<storage, read_write> o: array<${T}>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
#if ${INPLACE}
  acc[i] = acc[i] + g[i];
#else
  o[i] = a[i] + b[i];
#endif
}
