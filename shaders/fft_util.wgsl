// Element-wise helpers around the FFT, one variant per define:
//   SHIFT:   out[i] = in[(i + s) mod n] per axis of a [D, H, W] volume (s = ceil(n/2): fftshift, floor(n/2):
//            ifftshift, numpy semantics); complex (vec2f) elements when COMPLEX, else f32.
//   TO_COMPLEX: out[i] = (in[i], 0) — a real volume made complex.
//   REAL:    out[i] = in[i].x          MAG: out[i] = |in[i]|
struct Params {
  n: u32,
  d: u32,
  h: u32,
  w: u32,
  sd: u32,
  sh: u32,
  sw: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${TO_COMPLEX}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2f>;
#elif ${COMPLEX}
@group(0) @binding(1) var<storage, read> src: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2f>;
#elif ${SHIFT}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
#else
@group(0) @binding(1) var<storage, read> src: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
#if ${SHIFT}
  let plane = p.h * p.w;
  let vol = p.d * plane;
  let b = i / vol;
  let r = i % vol;
  let z = (r / plane + p.sd) % p.d;
  let y = ((r / p.w) % p.h + p.sh) % p.h;
  let x = (r % p.w + p.sw) % p.w;
  dst[i] = src[b * vol + (z * p.h + y) * p.w + x];
#elif ${TO_COMPLEX}
  dst[i] = vec2f(src[i], 0.0);
#elif ${MAG}
  dst[i] = length(src[i]);
#else
  dst[i] = src[i].x;
#endif
}
