// Weight gradient of a 3D convolution on subgroup matrices (tensor cores): f16 x f16 -> f32 matrices of
// S x S x S (the adapter's configuration, see conv3d_mma.wgsl). The GEMM
//   dW[o, r] = sum over k of dy[n, o, q] * x[n, c, q*s - pad + tap],   r = c * kvol + tap,   k = n * P + q,
// with M = output channels, N = R = input channels x taps, K = batch x output positions. One workgroup = one
// subgroup of SG invocations computes a BM = 4S (output channels) x BN = 2S (columns r) block as 4 x 2 result
// matrices over its K chunk (wid.z); chunks write f32 partial sums that conv3d_reduce.wgsl adds in a fixed order
// (or dW itself when there is one chunk). K runs in steps of S: the dy tile (BM x S) and the gathered x tile
// (S x BN, zero in the padding) are rounded to f16 into workgroup memory, then loaded as left / right matrices.
// Loop bounds and matrix offsets derive from uniform values only (uniform control flow for the matrix calls).
// Mixed precision: dy and x stored as T (f16 or f32) are rounded to f16; products are exact in f32, sums f32.
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

const S = ${MS}u;
const SG = ${SG}u;
const BM = 4u * S;
const BN = 2u * S;
const PPL = BN / SG;
const AROWS = SG / S;
var<workgroup> a_s: array<f16, BM * S>;
var<workgroup> b_s: array<f16, S * BN>;
var<workgroup> c_s: array<f32, S * S>;

@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r_block = wid.x * BN;
  let o_block = wid.y * BM;
  let chunk = wid.z;
  let k_lo = chunk * p.k_per_chunk;
  let k_hi = min(p.k_total, k_lo + p.k_per_chunk);
  let npos = p.o_d * p.o_h * p.o_w;
  let in_vol = p.i_d * p.i_h * p.i_w;

  // This lane's B columns r_block + lid + SG * j: input channel and tap offsets, fixed for the whole K loop.
  var col_c: array<u32, PPL>;
  var col_a: array<i32, PPL>;
  var col_b: array<i32, PPL>;
  var col_w: array<i32, PPL>;
  var col_ok: array<bool, PPL>;
  for (var j = 0u; j < PPL; j++) {
    let r = r_block + lid + SG * j;
    col_ok[j] = r < p.r_total;
    let tap = r % p.k_vol;
    col_c[j] = r / p.k_vol;
    col_a[j] = i32(tap / (p.k_h * p.k_w)) - p.p_d;
    col_b[j] = i32((tap / p.k_w) % p.k_h) - p.p_h;
    col_w[j] = i32(tap % p.k_w) - p.p_w;
  }
  // A loads: K column lid % S, output channels lid / S + AROWS * j of the block.
  let ak = lid % S;
  let am = lid / S;

  var acc0 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc1 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc2 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc3 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc4 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc5 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc6 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc7 = subgroup_matrix_result<f32, ${MS}, ${MS}>();

  for (var k0 = k_lo; k0 < k_hi; k0 += S) {
    {
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
    for (var kr = 0u; kr < S; kr++) {
      let k = k0 + kr;
      let kin = k < k_hi;
      let n = k / npos;
      let q = k % npos;
      let qw = q % p.o_w;
      let qh = (q / p.o_w) % p.o_h;
      let qd = q / (p.o_w * p.o_h);
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
    }
    workgroupBarrier();
    let b0 = subgroupMatrixLoad<subgroup_matrix_right<f16, ${MS}, ${MS}>, row_major>(&b_s, 0u, BN);
    let b1 = subgroupMatrixLoad<subgroup_matrix_right<f16, ${MS}, ${MS}>, row_major>(&b_s, S, BN);
    let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, ${MS}, ${MS}>, row_major>(&a_s, 0u, S);
    acc0 = subgroupMatrixMultiplyAccumulate(a0, b0, acc0);
    acc1 = subgroupMatrixMultiplyAccumulate(a0, b1, acc1);
    let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, ${MS}, ${MS}>, row_major>(&a_s, S * S, S);
    acc2 = subgroupMatrixMultiplyAccumulate(a1, b0, acc2);
    acc3 = subgroupMatrixMultiplyAccumulate(a1, b1, acc3);
    let a2 = subgroupMatrixLoad<subgroup_matrix_left<f16, ${MS}, ${MS}>, row_major>(&a_s, 2u * S * S, S);
    acc4 = subgroupMatrixMultiplyAccumulate(a2, b0, acc4);
    acc5 = subgroupMatrixMultiplyAccumulate(a2, b1, acc5);
    let a3 = subgroupMatrixLoad<subgroup_matrix_left<f16, ${MS}, ${MS}>, row_major>(&a_s, 3u * S * S, S);
    acc6 = subgroupMatrixMultiplyAccumulate(a3, b0, acc6);
    acc7 = subgroupMatrixMultiplyAccumulate(a3, b1, acc7);
    workgroupBarrier();
  }

  // Each S x S result goes through workgroup memory; every lane writes S * S / SG of its elements.
  let part0 = chunk * p.co * p.r_total;
  for (var t = 0u; t < 8u; t++) {
    switch t {
      case 0u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc0, S); }
      case 1u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc1, S); }
      case 2u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc2, S); }
      case 3u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc3, S); }
      case 4u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc4, S); }
      case 5u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc5, S); }
      case 6u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc6, S); }
      default: { subgroupMatrixStore<row_major>(&c_s, 0u, acc7, S); }
    }
    workgroupBarrier();
    let m0 = (t / 2u) * S;
    let n0 = (t % 2u) * S;
    for (var e = lid; e < S * S; e += SG) {
      let o = o_block + m0 + e / S;
      let r = r_block + n0 + e % S;
      if (o < p.co && r < p.r_total) { part[part0 + o * p.r_total + r] = c_s[e]; }
    }
    workgroupBarrier();
  }
}
