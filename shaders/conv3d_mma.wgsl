// Direct 3D convolution on subgroup matrices (tensor cores): f16 x f16 -> f32 matrices of S x S x S, for adapters
// that offer chromium-experimental-subgroup-matrix with that configuration and a fixed subgroup size SG (NVIDIA:
// S = 16, SG = 32; Mesa lavapipe 26: S = 8, SG = 8). Same geometry as conv3d.wgsl / conv3d_tiled.wgsl (forward
// and per-residue-class input gradient; see conv3d.wgsl).
//
// One workgroup = one subgroup of SG invocations computes a BM = 4S (output channels) x BN = 2S (positions) block
// as 4 x 2 result matrices. K = in-role channels x taps runs in steps of S: the weight tile (BM x S) and the
// im2col input tile (S x BN) are converted to f16 into workgroup memory, then loaded as left / right matrices.
// Every loop bound and every matrix offset derives from uniform values (workgroup id, params, loop counters), so
// the matrix calls sit in uniform control flow. Inputs are rounded to f16 (accumulation in f32): with f32
// activations the variant is offered only when the caller allows reduced precision (kernels/conv3d.ts:
// setConvTensorCores); with f16 activations (mixed precision) only the f32 weights are rounded, as autocast does.
//
// Prepended: shaders/lib/conv3d_common.wgsl (directives, uniform block, bindings x / w / bias / y, load_x,
// store_y, split_z, ci_range, grid_zyx). x and y may be stored as f16; every product and sum is f32.
// Defines: MS (S), SG (subgroup size; SG is a multiple of S and divides 2S).
const S = ${MS}u;
const SG = ${SG}u;
const BM = 4u * S;
const BN = 2u * S;
// Positions of the B tile per lane, and A-tile rows a lane fills per pass.
const PPL = BN / SG;
const AROWS = SG / S;
var<workgroup> a_s: array<f16, BM * S>;
var<workgroup> b_s: array<f16, S * BN>;
var<workgroup> c_s: array<f32, S * S>;

@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n_block = (wid.y * nwg.x + wid.x) * BN;
  let zc = split_z(wid.z);
  let chunk = zc.x;
  let batch = zc.y;
  let cob = zc.z;
  let cr = ci_range(chunk);
  let k_lo = cr.x * p.nt_vol;
  let k_hi = cr.y * p.nt_vol;
  let in_vol = p.i_d * p.i_h * p.i_w;
  let cp = p.out_cp4 * 4u;

  // B loads: this lane's im2col columns (positions n_block + lid + SG * j), all S rows of each K step.
  var iz0: array<i32, PPL>;
  var iy0: array<i32, PPL>;
  var ix0: array<i32, PPL>;
  var pos_ok: array<bool, PPL>;
  for (var j = 0u; j < PPL; j++) {
    let n_me = n_block + lid + SG * j;
    let g = grid_zyx(n_me);
    iz0[j] = i32(g.x * p.s_d) + p.off_d;
    iy0[j] = i32(g.y * p.s_h) + p.off_h;
    ix0[j] = i32(g.z * p.s_w) + p.off_w;
    pos_ok[j] = n_me < p.n_pos;
  }
  // A loads: K row lid % S, output channels lid / S + AROWS * j of the block.
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
      var wbase = 0u;
      let kin = k < k_hi;
      if (kin) {
        let ci = k / p.nt_vol;
        let r = k % p.nt_vol;
        let uz = r / p.nt_hw;
        let uy = (r % p.nt_hw) / p.nt_w;
        let ux = r % p.nt_w;
        let tap = (u32(p.tb_d + p.ts_d * i32(uz)) * p.k_h + u32(p.tb_h + p.ts_h * i32(uy))) * p.k_w + u32(p.tb_w + p.ts_w * i32(ux));
        wbase = (ci * p.k_vol + tap) * cp + cob * BM;
      }
      for (var j = 0u; j < BM / AROWS; j++) {
        let m = am + AROWS * j;
        a_s[m * S + ak] = f16(select(0.0, w[wbase + m], kin));
      }
    }
    for (var kr = 0u; kr < S; kr++) {
      let k = k0 + kr;
      let kin = k < k_hi;
      let ci = k / p.nt_vol;
      let r = k % p.nt_vol;
      let dz = i32(r / p.nt_hw);
      let dy = i32((r % p.nt_hw) / p.nt_w);
      let dx = i32(r % p.nt_w);
      for (var j = 0u; j < PPL; j++) {
        var v = 0.0;
        let iz = iz0[j] + dz;
        let iy = iy0[j] + dy;
        let ix = ix0[j] + dx;
        if (kin && pos_ok[j] && iz >= 0 && iz < i32(p.i_d) && iy >= 0 && iy < i32(p.i_h) && ix >= 0 && ix < i32(p.i_w)) {
          v = load_x((batch * p.in_c + ci) * in_vol + (u32(iz) * p.i_h + u32(iy)) * p.i_w + u32(ix));
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

  // Each S x S result goes through workgroup memory, then every lane writes S * S / SG of its elements.
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
      let co = cob * BM + m0 + e / S;
      let n = n_block + n0 + e % S;
      if (co < p.out_c && n < p.n_pos) {
        let g = grid_zyx(n);
        store_y(chunk, batch, co, out_spatial(g.x, g.y, g.z), c_s[e]);
      }
    }
    workgroupBarrier();
  }
}
