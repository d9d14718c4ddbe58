// Streaming triad a = b·c + d: the elementwise bandwidth ceiling (three reads and one write per element).
// VEC: one vec4 per invocation (the main body); otherwise scalars from element `off` on (the n mod 4 tail).
struct Params { n: u32, off: u32 }
@group(0) @binding(0) var<uniform> p: Params;
#if ${VEC}
@group(0) @binding(1) var<storage, read_write> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read> c: array<vec4f>;
@group(0) @binding(4) var<storage, read> d: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read> d: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i < p.n) {
    let j = p.off + i;
    a[j] = b[j] * c[j] + d[j];
  }
}
