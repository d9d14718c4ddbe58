// Pointwise activations and their gradients. OP: 0 ReLU, 1 LeakyReLU(alpha), 2 SiLU, 3 sigmoid.
// Forward: y = f(x). Backward: gx = gy · f'(x) (sigmoid uses its saved output: f' = y·(1 − y)).
// Math is done in f32 whatever the storage type T; V4 variants (f32, n % 4 == 0) move four elements per invocation
// (T is then vec4<f32> and n counts vec4s).
${ENABLE_F16}
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
#if ${GRAD}
@group(0) @binding(1) var<storage, read> gy: array<${T}>;
@group(0) @binding(2) var<storage, read> xs: array<${T}>;
@group(0) @binding(3) var<storage, read_write> gx: array<${T}>;
#else
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> y: array<${T}>;
#endif

fn sigm(v: f32) -> f32 {
  // exp of a non-positive argument only: no overflow for large |v|.
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

fn act(v: f32) -> f32 {
  switch (${OP}u) {
    case 0u: { return max(v, 0.0); }
    case 1u: { return select(v * p.alpha, v, v > 0.0); }
    case 2u: { return v * sigm(v); }
    default: { return sigm(v); }
  }
}

fn dact(v: f32) -> f32 {
  switch (${OP}u) {
    case 0u: { return select(0.0, 1.0, v > 0.0); }
    case 1u: { return select(p.alpha, 1.0, v > 0.0); }
    case 2u: { let s = sigm(v); return s * (1.0 + v * (1.0 - s)); }
    default: { return v * (1.0 - v); }
  }
}

fn act4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(act(v.x), act(v.y), act(v.z), act(v.w));
}

fn dact4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(dact(v.x), dact(v.y), dact(v.z), dact(v.w));
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
#if ${V4}
#if ${GRAD}
  gx[i] = gy[i] * dact4(xs[i]);
#else
  y[i] = act4(x[i]);
#endif
#else
#if ${GRAD}
  gx[i] = ${T}(f32(gy[i]) * dact(f32(xs[i])));
#else
  y[i] = ${T}(act(f32(x[i])));
#endif
#endif
}
