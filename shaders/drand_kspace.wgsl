// k-space artifacts on the unshifted spectrum K = fftn(x) of a [C, D, H, W] volume (interleaved re, im). Positions
// are given in fftshift-ed coordinates s, which sit at unshifted index u = (s + ceil(n/2)) mod n per axis; the
// shifted coordinate of u is s = (u + floor(n/2)) mod n.
//   SPIKE: one thread per channel c: at the spike position, |K| becomes exp(v) and the phase is kept (phase 0 where
//          K = 0); v = p.intensity when p.fixed != 0, else m (0.95 + 0.15 u) with m = 2.5 mean(log(|K| + 1e-10)) from
//          stats[c].w (MONAI RandKSpaceSpikeNoise with intensity_range None).
//   GIBBS: zero every element whose shifted coordinate lies farther than r from the centre ((n - 1) / 2 per axis)
//          (MONAI GibbsNoise).
struct Params {
  n: u32,
  d: u32,
  h: u32,
  w: u32,
  loc: u32,
  channels: u32,
  fixed: u32,
  u: f32,
  intensity: f32,
  r2: f32,    // squared Gibbs radius
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> k: array<vec2f>;
#if ${SPIKE}
@group(0) @binding(2) var<storage, read> stats: array<vec4f>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${SPIKE}
  if (i >= p.channels) { return; }
  let vol = p.d * p.h * p.w;
  var v = p.intensity;
  if (p.fixed == 0u) {
    v = 2.5 * stats[i].w * (0.95 + 0.15 * p.u);
  }
  let idx = i * vol + p.loc;
  let c = k[idx];
  let mag = length(c);
  var dir = vec2f(1.0, 0.0);
  if (mag > 0.0) { dir = c / mag; }
  k[idx] = exp(v) * dir;
#else
  if (i >= p.n) { return; }
  let r = i % (p.d * p.h * p.w);
  let z = f32((r / (p.h * p.w) + p.d / 2u) % p.d) - 0.5 * f32(p.d - 1u);
  let y = f32(((r / p.w) % p.h + p.h / 2u) % p.h) - 0.5 * f32(p.h - 1u);
  let x = f32((r % p.w + p.w / 2u) % p.w) - 0.5 * f32(p.w - 1u);
  if (z * z + y * y + x * x > p.r2) {
    k[i] = vec2f(0.0);
  }
#endif
}
