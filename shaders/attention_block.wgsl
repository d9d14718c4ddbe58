// Helpers for block-wise attention on the matmul kernels (kernels/attention.ts, blocked path). A block holds the
// raw scores s = q·kᵀ of R query rows against all S keys, [R, S] row-major.
//   SOFTMAX  one workgroup per row: P = exp(scale·s − m)/l written over s, lse = m + log l
//   DS       per element, in place: P = exp(scale·s − lse[row]) over s, dS = scale·P·(dP − delta[row]) over dP
struct Params { rows: u32, s: u32, scale: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
#if ${SOFTMAX}
@group(0) @binding(1) var<storage, read_write> sc: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.s;
  var m = -3.0e38;
  for (var j = lid; j < p.s; j += 64u) { m = max(m, sc[base + j] * p.scale); }
  red[lid] = m;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var l = 0.0;
  for (var j = lid; j < p.s; j += 64u) {
    let e = exp(sc[base + j] * p.scale - m);
    sc[base + j] = e;
    l += e;
  }
  red[lid] = l;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var j = lid; j < p.s; j += 64u) { sc[base + j] *= inv; }
  if (lid == 0u) { lse[row] = m + log(red[0]); }
}
#else
@group(0) @binding(1) var<storage, read_write> sc: array<f32>;
@group(0) @binding(2) var<storage, read_write> dp: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> delta: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.rows * p.s) { return; }
  let row = i / p.s;
  let pr = exp(sc[i] * p.scale - lse[row]);
  sc[i] = pr;
  dp[i] = p.scale * pr * (dp[i] - delta[row]);
}
#endif
