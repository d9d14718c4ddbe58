// Min, max and sum of each segment of a tensor viewed as [S, len], in two passes.
//   PASS1: workgroup (chunk c, segment s) reduces elements [c CHUNK, (c + 1) CHUNK) of segment s to
//          partial[s * chunks + c] = (min, max, sum, 0).
//   PASS2: workgroup s reduces its segment's partials to stats[s] = (min, max, sum, sum / len).
// With LOGABS the values are log(|K| + 1e-10) of complex elements (interleaved re, im), for k-space statistics.
struct Params {
  len: u32,
  chunks: u32,
  segments: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${PASS1}
#if ${LOGABS}
@group(0) @binding(1) var<storage, read> src: array<vec2f>;
#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
#endif
#else
@group(0) @binding(1) var<storage, read> src: array<vec4f>;
#endif
@group(0) @binding(2) var<storage, read_write> dst: array<vec4f>;

var<workgroup> smin: array<f32, ${WG}>;
var<workgroup> smax: array<f32, ${WG}>;
var<workgroup> ssum: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var mn = 3.4e38;
  var mx = -3.4e38;
  var sm = 0.0;
#if ${PASS1}
  let s = wid.y;
  let start = wid.x * ${CHUNK}u;
  let stop = min(start + ${CHUNK}u, p.len);
  for (var e = start + lid; e < stop; e += ${WG}u) {
#if ${LOGABS}
    let v = log(length(src[s * p.len + e]) + 1e-10);
#else
    let v = src[s * p.len + e];
#endif
    mn = min(mn, v);
    mx = max(mx, v);
    sm += v;
  }
#else
  let s = wid.x;
  for (var c = lid; c < p.chunks; c += ${WG}u) {
    let v = src[s * p.chunks + c];
    mn = min(mn, v.x);
    mx = max(mx, v.y);
    sm += v.z;
  }
#endif
  smin[lid] = mn;
  smax[lid] = mx;
  ssum[lid] = sm;
  workgroupBarrier();
  for (var k = ${WG}u / 2u; k > 0u; k /= 2u) {
    if (lid < k) {
      smin[lid] = min(smin[lid], smin[lid + k]);
      smax[lid] = max(smax[lid], smax[lid + k]);
      ssum[lid] = ssum[lid] + ssum[lid + k];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
#if ${PASS1}
    dst[s * p.chunks + wid.x] = vec4f(smin[0], smax[0], ssum[0], 0.0);
#else
    dst[s] = vec4f(smin[0], smax[0], ssum[0], ssum[0] / f32(p.len));
#endif
  }
}
