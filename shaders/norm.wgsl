// Group normalisation (instance norm = one group per channel) over x [N, C, S] with G groups: the C/G channels of a
// group are contiguous, so group (n, g) is one segment of M = (C/G)·S elements. Statistics are f32 whatever the
// storage type T of x/y/dy/dx; gamma, beta and their gradients are f32. Stages (one per variant):
//   STATS_PART  partial shifted sums per (group, chunk): (Σ(x−K), Σ(x−K)², K) with K the segment's first element
//   STATS_FIN   per group: mean, 1/sqrt(var + eps) (biased variance)
//   APPLY       y = (x − mean)·rstd·gamma[c] + beta[c]
//   BWD_PART    partial sums per (n, c, chunk): (Σ dy, Σ dy·xhat)
//   BWD_RED     dgamma[c] = Σ_n Σ dy·xhat, dbeta[c] = Σ_n Σ dy; per group (Σ gamma·dy, Σ gamma·dy·xhat) / M
//   BWD_DX      dx = rstd·(gamma[c]·dy − mean_g(gamma·dy) − xhat·mean_g(gamma·dy·xhat))
// V4 variants (f32 with S a multiple of 4): T is vec4<f32>, four elements of one channel per load; p.n then counts
// vec4s in APPLY and BWD_DX, while seg, s and chunk stay in elements.
${ENABLE_F16}
struct Params { n: u32, seg: u32, s: u32, c: u32, g: u32, chunk: u32, nchunks: u32, base: u32, count: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;

#if ${STATS_PART}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> part: array<vec4<f32>>;
var<workgroup> red: array<vec2<f32>, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  // wid.x: chunk of the segment; wid.y: group within this slice of samples.
  let seg0 = wid.y * p.seg;
  let start = wid.x * p.chunk;
  let end = min(start + p.chunk, p.seg);
#if ${V4}
  let k = x[seg0 / 4u].x;
  var s1 = 0.0;
  var s2 = 0.0;
  for (var i = start / 4u + lid; i < end / 4u; i += ${WG}u) {
    let d = x[seg0 / 4u + i] - vec4<f32>(k);
    s1 += d.x + d.y + d.z + d.w;
    s2 += dot(d, d);
  }
#else
  let k = f32(x[seg0]);
  var s1 = 0.0;
  var s2 = 0.0;
  for (var i = start + lid; i < end; i += ${WG}u) {
    let d = f32(x[seg0 + i]) - k;
    s1 += d;
    s2 += d * d;
  }
#endif
  red[lid] = vec2<f32>(s1, s2);
  workgroupBarrier();
  for (var w = ${WG}u / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { part[(p.base + wid.y) * p.nchunks + wid.x] = vec4<f32>(red[0], k, 0.0); }
}
#elif ${STATS_FIN}
@group(0) @binding(1) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec2<f32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= p.count) { return; }
  var s1 = 0.0;
  var s2 = 0.0;
  for (var j = 0u; j < p.nchunks; j++) {
    let q = part[t * p.nchunks + j];
    s1 += q.x;
    s2 += q.y;
  }
  let m = f32(p.seg);
  let d = s1 / m;
  let v = max(s2 / m - d * d, 0.0);
  stats[t] = vec2<f32>(part[t * p.nchunks].z + d, inverseSqrt(v + p.eps));
}
#elif ${APPLY}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<${T}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
#if ${V4}
  let c = (4u * i / p.s) % p.c;
  let st = stats[p.base + 4u * i / p.seg];
  y[i] = (x[i] - vec4<f32>(st.x)) * (st.y * gamma[c]) + vec4<f32>(beta[c]);
#else
  let c = (i / p.s) % p.c;
  let st = stats[p.base + i / p.seg];
  y[i] = ${T}((f32(x[i]) - st.x) * st.y * gamma[c] + beta[c]);
#endif
}
#elif ${BWD_PART}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> dy: array<${T}>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> part: array<vec2<f32>>;
var<workgroup> red: array<vec2<f32>, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  // wid.x: chunk of the channel's S elements; wid.y: (n, c) within this slice; p.base: first global (n, c).
  let nc = p.base + wid.y;
  let grp = (nc / p.c) * p.g + (nc % p.c) / (p.c / p.g);
  let st = stats[grp];
  let off = wid.y * p.s;
  let start = wid.x * p.chunk;
  let end = min(start + p.chunk, p.s);
  var a = 0.0;
  var b = 0.0;
#if ${V4}
  for (var i = start / 4u + lid; i < end / 4u; i += ${WG}u) {
    let g = dy[off / 4u + i];
    a += g.x + g.y + g.z + g.w;
    b += dot(g, (x[off / 4u + i] - vec4<f32>(st.x)) * st.y);
  }
#else
  for (var i = start + lid; i < end; i += ${WG}u) {
    let g = f32(dy[off + i]);
    a += g;
    b += g * (f32(x[off + i]) - st.x) * st.y;
  }
#endif
  red[lid] = vec2<f32>(a, b);
  workgroupBarrier();
  for (var w = ${WG}u / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { part[nc * p.nchunks + wid.x] = red[0]; }
}
#elif ${BWD_RED}
@group(0) @binding(1) var<storage, read> part: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(5) var<storage, read_write> coef: array<vec2<f32>>;
fn chan_sum(nc: u32) -> vec2<f32> {
  var s = vec2<f32>(0.0);
  for (var j = 0u; j < p.nchunks; j++) { s += part[nc * p.nchunks + j]; }
  return s;
}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  // p.count = N (samples); threads [0, C) do dgamma/dbeta, threads [C, C + N·G) the per-group coefficients.
  let t = gid.x;
  if (t < p.c) {
    var s = vec2<f32>(0.0);
    for (var n = 0u; n < p.count; n++) { s += chan_sum(n * p.c + t); }
    dgamma[t] = s.y;
    dbeta[t] = s.x;
    return;
  }
  let q = t - p.c;
  if (q >= p.count * p.g) { return; }
  let n = q / p.g;
  let cpg = p.c / p.g;
  let c0 = (q % p.g) * cpg;
  var s = vec2<f32>(0.0);
  for (var c = c0; c < c0 + cpg; c++) { s += gamma[c] * chan_sum(n * p.c + c); }
  coef[q] = s / f32(p.seg);
}
#else
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> dy: array<${T}>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> coef: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> dx: array<${T}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
#if ${V4}
  let c = (4u * i / p.s) % p.c;
  let grp = p.base + 4u * i / p.seg;
  let st = stats[grp];
  let cf = coef[grp];
  let xhat = (x[i] - vec4<f32>(st.x)) * st.y;
  dx[i] = st.y * (gamma[c] * dy[i] - vec4<f32>(cf.x) - xhat * cf.y);
#else
  let c = (i / p.s) % p.c;
  let grp = p.base + i / p.seg;
  let st = stats[grp];
  let cf = coef[grp];
  let xhat = (f32(x[i]) - st.x) * st.y;
  dx[i] = ${T}(st.y * (gamma[c] * f32(dy[i]) - cf.x - xhat * cf.y));
#endif
}
#endif
