// The subgroup-matrix GEMM skeleton shared by conv3d_mma.wgsl (forward, input gradient) and conv3d_wgrad_mma.wgsl
// (weight gradient), appended after the kernel's own source. One workgroup = one subgroup of SG invocations
// computes a BM = 4S x BN = 2S block of C as 4 x 2 result matrices of S x S (f16 x f16 -> f32). K runs in steps
// of S: the kernel's mma_load(k0, lid) fills a_s (BM x S, row-major) and b_s (S x BN, row-major) with f16 values,
// then the 8 multiply-adds run on them. Every loop bound and matrix offset is uniform (workgroup id, params, loop
// counters), so the matrix calls sit in uniform control flow. At the end each S x S result goes through c_s and
// the kernel's mma_store(m, n, v) receives its elements with block-relative coordinates (m < BM, n < BN).
// The kernel provides: mma_setup(wid, nwg, lid) -> vec2u (its K range [lo, hi), after setting any per-lane state
// in private variables), mma_load(k0, lid), mma_store(m, n, v). Defines: MS (S), SG (subgroup size; a multiple
// of S that divides 2S).
const S = ${MS}u;
const SG = ${SG}u;
const BM = 4u * S;
const BN = 2u * S;
// B-tile columns per lane, and A-tile rows a lane fills per pass.
const PPL = BN / SG;
const AROWS = SG / S;
var<workgroup> a_s: array<f16, BM * S>;
var<workgroup> b_s: array<f16, S * BN>;
var<workgroup> c_s: array<f32, S * S>;

@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kr = mma_setup(wid, nwg, lid);
  var acc0 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc1 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc2 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc3 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc4 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc5 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc6 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  var acc7 = subgroup_matrix_result<f32, ${MS}, ${MS}>();
  for (var k0 = kr.x; k0 < kr.y; k0 += S) {
    mma_load(k0, lid);
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
      mma_store(m0 + e / S, n0 + e % S, c_s[e]);
    }
    workgroupBarrier();
  }
}
