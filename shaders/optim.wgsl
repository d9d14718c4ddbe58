// Optimizer and training-helper kernels, one per variant, each over one parameter tensor (f32 master weights):
//   ADAM      AdamW (decoupled decay) or Adam (L2 decay) with PyTorch's update order and bias correction
//   SGD       SGD with momentum, dampening, Nesterov and weight decay (PyTorch semantics)
//   EMA       ema = decay·ema + (1 − decay)·p
//   SUMSQ     partial Σ g² per chunk (global-norm clipping, stage 1)
//   NORM_FIN  one workgroup: total norm and clip coefficient min(1, max_norm / (norm + 1e-6)) (stage 2)
//   SCALE     g ·= coefficient read from GPU memory (stage 3; no readback)
//   UNSCALE   g ·= 1/loss_scale, and raise a flag if any result is not finite (dynamic loss scaling)
struct Params { n: u32, off: u32, first: u32, flags: u32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, step_size: f32, bc2_sqrt: f32, gscale: f32 }
@group(0) @binding(0) var<uniform> p: Params;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * ${WG}u + lid;
}

#if ${ADAM}
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  var gr = g[i] * p.gscale;
  var x = w[i];
  if (p.flags == 1u) {
    x = x * (1.0 - p.lr * p.wd);
  } else {
    gr = gr + p.wd * x;
  }
  let mi = m[i] + (gr - m[i]) * (1.0 - p.b1);
  let vi = v[i] * p.b2 + (1.0 - p.b2) * gr * gr;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / p.bc2_sqrt + p.eps;
  w[i] = x - p.step_size * mi / denom;
}
#elif ${SGD}
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // b1 = momentum, b2 = dampening, flags = nesterov
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  var d = g[i] * p.gscale + p.wd * w[i];
  if (p.b1 != 0.0) {
    var b = d;
    if (p.first == 0u) { b = p.b1 * buf[i] + (1.0 - p.b2) * d; }
    buf[i] = b;
    d = select(b, d + p.b1 * b, p.flags == 1u);
  }
  w[i] = w[i] - p.lr * d;
}
#elif ${EMA}
@group(0) @binding(1) var<storage, read_write> ema: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  ema[i] = ema[i] * p.b1 + (1.0 - p.b1) * w[i];
}
#elif ${SUMSQ}
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let start = wid.x * ${CHUNK}u;
  let end = min(start + ${CHUNK}u, p.n);
  var s = 0.0;
  for (var i = start + lid; i < end; i += ${WG}u) { s += g[i] * g[i]; }
  red[lid] = s;
  workgroupBarrier();
  for (var k = ${WG}u / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { part[p.off + wid.x] = red[0]; }
}
#elif ${NORM_FIN}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  // lr = max_norm
  var s = 0.0;
  for (var i = lid; i < p.n; i += ${WG}u) { s += part[i]; }
  red[lid] = s;
  workgroupBarrier();
  for (var k = ${WG}u / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let norm = sqrt(red[0]);
    out[0] = norm;
    out[1] = min(p.lr / (norm + 1e-6), 1.0);
  }
}
#elif ${SCALE}
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  g[i] = g[i] * coef[1];
}
#else
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let x = g[i] * p.gscale;
  g[i] = x;
  // Inf and NaN have an all-ones exponent; testing the bits survives compilers that assume finite math.
  if ((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u) { atomicOr(&flag[0], 1u); }
}
#endif
