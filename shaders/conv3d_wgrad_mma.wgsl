// Weight gradient of a 3D convolution on subgroup matrices (tensor cores): f16 x f16 -> f32 matrices of
// S x S x S (the adapter's configuration, see conv3d_mma.wgsl). The GEMM
//   dW[o, r] = sum over k of dy[n, o, q] * x[n, c, q*s - pad + tap],   r = c * kvol + tap,   k = n * P + q,
// with M = output channels, N = R = input channels x taps, K = batch x output positions, on the skeleton of
// shaders/lib/mma_tile.wgsl (appended): one subgroup per BM = 4S output channels x BN = 2S columns r over its K
// chunk (wid.z). Chunks write f32 partial sums that conv3d_reduce.wgsl adds in a fixed order (or dW itself when
// there is one chunk). The hooks below fill the dy tile (BM x S) and the gathered x tile (S x BN, zero in the
// padding) and store the partials. Mixed precision: dy and x stored as T (f16 or f32) are rounded to f16;
// products are exact in f32, sums f32.
${ENABLE_F16}
enable chromium_experimental_subgroup_matrix;
struct Params {
  co: u32, ci: u32, r_total: u32, k_total: u32, k_per_chunk: u32,
  o_d: u32, o_h: u32, o_w: u32,
  i_d: u32, i_h: u32, i_w: u32,
  s_d: u32, s_h: u32, s_w: u32,
  p_d: i32, p_h: i32, p_w: i32,
  k_h: u32, k_w: u32, k_vol: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<${T}>;
@group(0) @binding(2) var<storage, read> x: array<${T}>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

// Set by mma_setup: the block origin, the chunk's K end, and this lane's B columns r_block + lid + SG * j as an
// input channel and tap offsets (fixed for the whole K loop).
var<private> r_block: u32;
var<private> o_block: u32;
var<private> chunk: u32;
var<private> k_hi: u32;
var<private> col_c: array<u32, PPL>;
var<private> col_a: array<i32, PPL>;
var<private> col_b: array<i32, PPL>;
var<private> col_w: array<i32, PPL>;
var<private> col_ok: array<bool, PPL>;

fn mma_setup(wid: vec3u, nwg: vec3u, lid: u32) -> vec2u {
  r_block = wid.x * BN;
  o_block = wid.y * BM;
  chunk = wid.z;
  let k_lo = wid.z * p.k_per_chunk;
  // The returned range is computed from uniform values only (a read of a private variable counts as non-uniform).
  let hi = min(p.k_total, k_lo + p.k_per_chunk);
  k_hi = hi;
  for (var j = 0u; j < PPL; j++) {
    let r = r_block + lid + SG * j;
    col_ok[j] = r < p.r_total;
    let tap = r % p.k_vol;
    col_c[j] = r / p.k_vol;
    col_a[j] = i32(tap / (p.k_h * p.k_w)) - p.p_d;
    col_b[j] = i32((tap / p.k_w) % p.k_h) - p.p_h;
    col_w[j] = i32(tap % p.k_w) - p.p_w;
  }
  return vec2u(k_lo, hi);
}

fn mma_load(k0: u32, lid: u32) {
  let npos = p.o_d * p.o_h * p.o_w;
  // A: K column lid % S (one output position), output channels lid / S + AROWS * j of the block.
  {
    let ak = lid % S;
    let am = lid / S;
    let k = k0 + ak;
    let kin = k < k_hi;
    let n = k / npos;
    let q = k % npos;
    for (var j = 0u; j < BM / AROWS; j++) {
      let o = o_block + am + AROWS * j;
      var v = 0.0;
      if (kin && o < p.co) { v = f32(dy[(n * p.co + o) * npos + q]); }
      a_s[(am + AROWS * j) * S + ak] = f16(v);
    }
  }
  // B: all S rows (positions) of this lane's columns. The position (n, qd, qh, qw) of k0 is decomposed once per step
  // (divisions by uniform values cost tens of instructions on a GPU) and then carried forward row by row.
  let in_vol = p.i_d * p.i_h * p.i_w;
  var n = k0 / npos;
  let q0 = k0 % npos;
  var qw = q0 % p.o_w;
  var qh = (q0 / p.o_w) % p.o_h;
  var qd = q0 / (p.o_w * p.o_h);
  for (var kr = 0u; kr < S; kr++) {
    let k = k0 + kr;
    let kin = k < k_hi;
    let bz = i32(qd * p.s_d);
    let by = i32(qh * p.s_h);
    let bx = i32(qw * p.s_w);
    for (var j = 0u; j < PPL; j++) {
      let iz = bz + col_a[j];
      let iy = by + col_b[j];
      let ix = bx + col_w[j];
      var v = 0.0;
      if (kin && col_ok[j] && iz >= 0 && iz < i32(p.i_d) && iy >= 0 && iy < i32(p.i_h) && ix >= 0 && ix < i32(p.i_w)) {
        v = f32(x[(n * p.ci + col_c[j]) * in_vol + (u32(iz) * p.i_h + u32(iy)) * p.i_w + u32(ix)]);
      }
      b_s[kr * BN + lid + SG * j] = f16(v);
    }
    // next position: x fastest, then y, z, batch
    qw++;
    if (qw == p.o_w) { qw = 0u; qh++; }
    if (qh == p.o_h) { qh = 0u; qd++; }
    if (qd == p.o_d) { qd = 0u; n++; }
  }
}

fn mma_store(m: u32, n: u32, v: f32) {
  let o = o_block + m;
  let r = r_block + n;
  if (o < p.co && r < p.r_total) { part[chunk * p.co * p.r_total + o * p.r_total + r] = v; }
}
