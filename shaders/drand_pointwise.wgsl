// Voxel-wise intensity transforms of domain randomisation (spec 4.6, 4.7); one variant per OP_* define.
// The tensor is [..., D, H, W]; leading dims are channels that share the parameters. Random variants take their
// numbers from Philox (prepended library, with the exact normal sampler shaders/lib/philox_normal.wgsl whose table
// is the binding after out): key = seed, counter = (flat voxel index, 0, stream, 0); the voxel's normals n1, n2 are
// philox_normal of the block's first two words, so each voxel's noise is a pure function of (seed, index), the
// same bits on every adapter. Every product b n passes through an XOR with p.opaque (always 0, unknown to the
// compiler) so that it is rounded on its own on every adapter, never fused into a multiply-add.
//   OP_BIAS:     out = x exp(sum_(i+j+k<=3) c_ijk P_i(z) P_j(y) P_k(x)), coordinates linspace(-1, 1, n) per axis
//   OP_GAUSS:    out = (x + a) + b n1                                  (bit-identical on every adapter)
//   OP_RICIAN:   out = sqrt(((x + a) + b n1)^2 + (a + b n2)^2)       (bit-identical: sqrt_rn is correctly rounded)
//   OP_CONTRAST: out = ((x - mn) / (range + 1e-7))^a range + mn, with mn, range from the stats buffer
//   OP_HIST:     out = piecewise-linear map of x from the reference to the floating control points, scaled to
//                [mn, mx] of the stats buffer (MONAI's interp: slope and intercept of segment
//                clamp(count(xp <= x) - 1, 0, n - 2)); a constant image is returned unchanged
//   OP_CLAMP:    out = clamp(x, a, b)
//   OP_COMBINE:  out = a x + b y
struct Params {
  n: u32,
  d: u32,
  h: u32,
  w: u32,
  key0: u32,
  key1: u32,
  stream: u32,
  count: u32,
  a: f32,
  b: f32,
  // OP_BIAS: the 20 Legendre coefficients c_ijk, (i, j, k) in lexicographic order (zero for the other ops).
  c0: f32, c1: f32, c2: f32, c3: f32, c4: f32, c5: f32, c6: f32, c7: f32, c8: f32, c9: f32,
  c10: f32, c11: f32, c12: f32, c13: f32, c14: f32, c15: f32, c16: f32, c17: f32, c18: f32, c19: f32,
  // Always 0; the random ops XOR their products' bits with it (see above).
  opaque: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#if ${OP_CONTRAST}
@group(0) @binding(3) var<storage, read> stats: array<vec4f>;
#elif ${OP_HIST}
@group(0) @binding(3) var<storage, read> stats: array<vec4f>;
@group(0) @binding(4) var<storage, read> points: array<vec2f>;
#elif ${OP_COMBINE}
@group(0) @binding(3) var<storage, read> y: array<f32>;
#elif ${RANDOM}
@group(0) @binding(3) var<storage, read> PHILOX_NORMAL_TABLE: array<i32>;
#endif

#if ${OP_BIAS}
fn legendre(t: f32) -> vec4f {
  return vec4f(1.0, t, 0.5 * (3.0 * t * t - 1.0), 0.5 * (5.0 * t * t * t - 3.0 * t));
}

fn coord(i: u32, n: u32) -> f32 {
  if (n <= 1u) { return -1.0; }
  return -1.0 + 2.0 * f32(i) / f32(n - 1u);
}
#endif

#if ${RANDOM}
fn normals(i: u32) -> vec2f {
  let w = philox4x32_10(vec4u(i, 0u, p.stream, 0u), vec2u(p.key0, p.key1));
  return vec2f(philox_normal(w.x), philox_normal(w.y));
}

// p.b n, rounded to f32 by itself on every adapter.
fn scaled(n: vec2f) -> vec2f {
  return bitcast<vec2f>(bitcast<vec2u>(p.b * n) ^ vec2u(p.opaque));
}

fn rounded(v: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(v) ^ p.opaque);
}

// Unsigned 64-bit a < b on (high, low) word pairs.
fn lt64(a: vec2u, b: vec2u) -> bool {
  return a.x < b.x || (a.x == b.x && a.y < b.y);
}

// The correctly rounded square root of s (WGSL lets sqrt be a few ulp off): the adapter's sqrt, moved by one ulp
// at a time until it lies between the midpoints to its neighbours, checked exactly in integers. With s = S 2^(es - 150)
// and r = R 2^(er - 150) (S, R the 24-bit significands), the midpoints are M 2^(er - 152) with M = 4R + 2 above and
// 4R - 2 below (4R - 1 when R = 2^23, where the spacing below halves), and M^2 2^(2 er - 304) < s compares
// M^2 (below 2^52, by philox_mulhilo) with S 2^k, k = es - 2 er + 154 (about 28). No square root of an f32 lies
// exactly on a midpoint, so there are no ties. Zero, subnormal, infinite and NaN s are left to the adapter's sqrt.
fn sqrt_rn(s: f32) -> f32 {
  var r = sqrt(s);
  let sb = bitcast<u32>(s);
  let es = (sb >> 23u) & 0xFFu;
  if (es == 0u || es == 255u || (sb >> 31u) != 0u) { return r; }
  let S = (sb & 0x7FFFFFu) | 0x800000u;
  for (var it = 0u; it < 4u; it++) {
    let rb = bitcast<u32>(r);
    let er = (rb >> 23u) & 0xFFu;
    let k = i32(es) - 2 * i32(er) + 154;
    if (er == 0u || er == 255u || k < 1 || k > 31) { return r; }
    let R = (rb & 0x7FFFFFu) | 0x800000u;
    let s2k = vec2u(S >> (32u - u32(k)), S << u32(k));
    if (lt64(philox_mulhilo(4u * R + 2u, 4u * R + 2u), s2k)) {
      r = bitcast<f32>(rb + 1u);
    } else {
      let lo = select(4u * R - 2u, 4u * R - 1u, R == 0x800000u);
      if (!lt64(s2k, philox_mulhilo(lo, lo))) { return r; }
      r = bitcast<f32>(rb - 1u);
    }
  }
  return r;
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
  let v = x[i];
#if ${OP_BIAS}
  let r = i % (p.d * p.h * p.w);
  let pz = legendre(coord(r / (p.h * p.w), p.d));
  let py = legendre(coord((r / p.w) % p.h, p.h));
  let px = legendre(coord(r % p.w, p.w));
  // Horner-like nesting over (i, j, k) in lexicographic coefficient order, fully unrolled.
  let f0 = py.x * (p.c0 * px.x + p.c1 * px.y + p.c2 * px.z + p.c3 * px.w)
         + py.y * (p.c4 * px.x + p.c5 * px.y + p.c6 * px.z)
         + py.z * (p.c7 * px.x + p.c8 * px.y)
         + py.w * p.c9;
  let f1 = py.x * (p.c10 * px.x + p.c11 * px.y + p.c12 * px.z)
         + py.y * (p.c13 * px.x + p.c14 * px.y)
         + py.z * p.c15;
  let f2 = py.x * (p.c16 * px.x + p.c17 * px.y) + py.y * p.c18;
  let field = pz.x * f0 + pz.y * f1 + pz.z * f2 + pz.w * p.c19;
  out[i] = v * exp(field);
#elif ${OP_GAUSS}
  out[i] = (v + p.a) + scaled(normals(i)).x;
#elif ${OP_RICIAN}
  let g = scaled(normals(i));
  let re = (v + p.a) + g.x;
  let im = p.a + g.y;
  out[i] = sqrt_rn(rounded(re * re) + rounded(im * im));
#elif ${OP_CONTRAST}
  let s = stats[0];
  let range = s.y - s.x;
  let t = (v - s.x) / (range + 1e-7);
  var pw = 0.0;
  if (t > 0.0) { pw = pow(t, p.a); }
  out[i] = pw * range + s.x;
#elif ${OP_HIST}
  let s = stats[0];
  if (s.x == s.y) {
    out[i] = v;
    return;
  }
  let span = s.y - s.x;
  // Segment = clamp(count(xp <= v) - 1, 0, n - 2): start from the uniform spacing of xp, then settle on exact
  // comparisons with the scaled points (as a linear scan would).
  let last = p.count - 2u;
  var seg = u32(clamp(floor((v - s.x) / span * f32(p.count - 1u)), 0.0, f32(last)));
  for (var q = 0u; q < 2u; q++) {
    if (seg < last && v >= points[seg + 1u].x * span + s.x) { seg++; }
    if (seg > 0u && v < points[seg].x * span + s.x) { seg--; }
  }
  let x0 = points[seg].x * span + s.x;
  let x1 = points[seg + 1u].x * span + s.x;
  let f0 = points[seg].y * span + s.x;
  let f1 = points[seg + 1u].y * span + s.x;
  let m = (f1 - f0) / (x1 - x0);
  out[i] = m * v + (f0 - m * x0);
#elif ${OP_CLAMP}
  out[i] = clamp(v, p.a, p.b);
#else
  out[i] = p.a * v + p.b * y[i];
#endif
}
