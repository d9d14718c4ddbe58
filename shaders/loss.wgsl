// Losses with fused reductions. Dice+BCE (vesselFM, MONAI DiceCELoss with sigmoid, squared_pred, per sample and
// channel, smooth 1e-5, lambda 0.9 / 0.1) and MSE. x: logits or predictions (type T), g: targets (type U).
//   DICE_PART  per (unit = sample·channel, chunk): (Σ p·g, Σ p², Σ g², Σ bce) with p = σ(x)
//   DICE_FIN   one workgroup: per unit (I, U = Σg² + Σp²) for backward, and the scalar loss
//   DICE_BWD   dx = gl·[wd/units·(−2g/(U+s) + 2p(2I+s)/(U+s)²)·p(1−p) + wc/n·(p − g)]
//   MSE_PART   per chunk Σ (x − g)²;  MSE_FIN  loss = Σ/n;  MSE_BWD  dx = gl·2(x − g)/n
${ENABLE_F16}
struct Params { n: u32, seg: u32, units: u32, chunk: u32, nchunks: u32, smooth_: f32, wdice: f32, wce: f32, pad: f32 }
@group(0) @binding(0) var<uniform> p: Params;

fn sigm(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// log(1 + z) accurate for small z (z = exp(−|x|) ∈ (0, 1]).
fn log1p_(z: f32) -> f32 {
  let u = 1.0 + z;
  if (u == 1.0) { return z; }
  return log(u) * z / (u - 1.0);
}

#if ${DICE_PART}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> g: array<${U}>;
@group(0) @binding(3) var<storage, read_write> part: array<vec4<f32>>;
var<workgroup> red: array<vec4<f32>, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let off = wid.y * p.seg;
  let start = wid.x * p.chunk;
  let end = min(start + p.chunk, p.seg);
  var acc = vec4<f32>(0.0);
  for (var i = start + lid; i < end; i += ${WG}u) {
    let v = f32(x[off + i]);
    let t = f32(g[off + i]);
    let pr = sigm(v);
    // BCE with logits, stable: max(v, 0) − v·t + log(1 + exp(−|v|))
    let bce = max(v, 0.0) - v * t + log1p_(exp(-abs(v)));
    acc += vec4<f32>(pr * t, pr * pr, t * t, bce);
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var w = ${WG}u / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { part[wid.y * p.nchunks + wid.x] = red[0]; }
}
#elif ${DICE_FIN}
@group(0) @binding(1) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
var<workgroup> red: array<vec2<f32>, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2<f32>(0.0);  // (Σ dice terms, Σ bce)
  for (var u = lid; u < p.units; u += ${WG}u) {
    var s = vec4<f32>(0.0);
    for (var j = 0u; j < p.nchunks; j++) { s += part[u * p.nchunks + j]; }
    let den = s.y + s.z;
    stats[u] = vec2<f32>(s.x, den);
    acc += vec2<f32>(1.0 - (2.0 * s.x + p.smooth_) / (den + p.smooth_), s.w);
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var w = ${WG}u / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = p.wdice * red[0].x / f32(p.units) + p.wce * red[0].y / f32(p.n); }
}
#elif ${DICE_BWD}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> g: array<${U}>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> gl: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<${T}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
  let st = stats[i / p.seg];
  let v = f32(x[i]);
  let t = f32(g[i]);
  let pr = sigm(v);
  let den = st.y + p.smooth_;
  let ddice = (-2.0 * t / den + 2.0 * pr * (2.0 * st.x + p.smooth_) / (den * den)) * pr * (1.0 - pr);
  dx[i] = ${T}(gl[0] * (p.wdice / f32(p.units) * ddice + p.wce / f32(p.n) * (pr - t)));
}
#elif ${MSE_PART}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> g: array<${U}>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let start = wid.x * p.chunk;
  let end = min(start + p.chunk, p.n);
  var acc = 0.0;
  for (var i = start + lid; i < end; i += ${WG}u) {
    let d = f32(x[i]) - f32(g[i]);
    acc += d * d;
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var w = ${WG}u / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { part[wid.x] = red[0]; }
}
#elif ${MSE_FIN}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var j = lid; j < p.nchunks; j += ${WG}u) { acc += part[j]; }
  red[lid] = acc;
  workgroupBarrier();
  for (var w = ${WG}u / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = red[0] / f32(p.n); }
}
#else
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> g: array<${U}>;
@group(0) @binding(3) var<storage, read> gl: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<${T}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
  dx[i] = ${T}(gl[0] * 2.0 * (f32(x[i]) - f32(g[i])) / f32(p.n));
}
#endif
