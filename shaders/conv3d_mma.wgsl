// Direct 3D convolution on tensor cores: f16 x f16 -> f32 subgroup matrices (16 x 16 x 16), for adapters that
// offer chromium-experimental-subgroup-matrix with subgroups of exactly 32 (NVIDIA). Same geometry as
// conv3d.wgsl / conv3d_tiled.wgsl (forward and per-residue-class input gradient; see conv3d.wgsl).
//
// One workgroup = one subgroup of 32 invocations computes a 64 (output channels) x 32 (positions) block as
// 4 x 2 result matrices. K = in-role channels x taps runs in steps of 16: the weight tile (64 x 16) and the
// im2col input tile (16 x 32) are converted to f16 into workgroup memory, then loaded as left/right matrices.
// Every loop bound and every matrix offset derives from uniform values (workgroup id, params, loop counters),
// so the matrix calls sit in uniform control flow. Inputs are rounded to f16 (accumulation in f32): selected
// only when the caller allows reduced precision (kernels/conv3d.ts: setConvTensorCores).
//
// Prepended: shaders/lib/conv3d_common.wgsl (directives, uniform block, bindings x / w / bias / y, load_x,
// store_y, split_z, ci_range, grid_zyx). x and y may be stored as f16; every product and sum is f32.
var<workgroup> a_s: array<f16, 1024>;
var<workgroup> b_s: array<f16, 512>;
var<workgroup> c_s: array<f32, 256>;

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n_block = (wid.y * nwg.x + wid.x) * 32u;
  let zc = split_z(wid.z);
  let chunk = zc.x;
  let batch = zc.y;
  let cob = zc.z;
  let cr = ci_range(chunk);
  let k_lo = cr.x * p.nt_vol;
  let k_hi = cr.y * p.nt_vol;
  let in_vol = p.i_d * p.i_h * p.i_w;
  let cp = p.out_cp4 * 4u;

  // B loads: this invocation's im2col column (position n_block + lid), all 16 rows of each K step.
  let n_me = n_block + lid;
  let gme = grid_zyx(n_me);
  let iz0 = i32(gme.x * p.s_d) + p.off_d;
  let iy0 = i32(gme.y * p.s_h) + p.off_h;
  let ix0 = i32(gme.z * p.s_w) + p.off_w;
  let pos_ok = n_me < p.n_pos;
  // A loads: K row lid % 16, output channels lid / 16 + 2j (j < 32) of the block.
  let ak = lid % 16u;
  let am = lid / 16u;

  var acc0 = subgroup_matrix_result<f32, 16, 16>();
  var acc1 = subgroup_matrix_result<f32, 16, 16>();
  var acc2 = subgroup_matrix_result<f32, 16, 16>();
  var acc3 = subgroup_matrix_result<f32, 16, 16>();
  var acc4 = subgroup_matrix_result<f32, 16, 16>();
  var acc5 = subgroup_matrix_result<f32, 16, 16>();
  var acc6 = subgroup_matrix_result<f32, 16, 16>();
  var acc7 = subgroup_matrix_result<f32, 16, 16>();

  for (var k0 = k_lo; k0 < k_hi; k0 += 16u) {
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
        wbase = (ci * p.k_vol + tap) * cp + cob * 64u;
      }
      for (var j = 0u; j < 32u; j++) {
        let m = am + 2u * j;
        a_s[m * 16u + ak] = f16(select(0.0, w[wbase + m], kin));
      }
    }
    for (var kr = 0u; kr < 16u; kr++) {
      let k = k0 + kr;
      var v = 0.0;
      if (k < k_hi && pos_ok) {
        let ci = k / p.nt_vol;
        let r = k % p.nt_vol;
        let iz = iz0 + i32(r / p.nt_hw);
        let iy = iy0 + i32((r % p.nt_hw) / p.nt_w);
        let ix = ix0 + i32(r % p.nt_w);
        if (iz >= 0 && iz < i32(p.i_d) && iy >= 0 && iy < i32(p.i_h) && ix >= 0 && ix < i32(p.i_w)) {
          v = load_x((batch * p.in_c + ci) * in_vol + (u32(iz) * p.i_h + u32(iy)) * p.i_w + u32(ix));
        }
      }
      b_s[kr * 32u + lid] = f16(v);
    }
    workgroupBarrier();
    let b0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&b_s, 0u, 32u);
    let b1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&b_s, 16u, 32u);
    let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a_s, 0u, 16u);
    acc0 = subgroupMatrixMultiplyAccumulate(a0, b0, acc0);
    acc1 = subgroupMatrixMultiplyAccumulate(a0, b1, acc1);
    let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a_s, 256u, 16u);
    acc2 = subgroupMatrixMultiplyAccumulate(a1, b0, acc2);
    acc3 = subgroupMatrixMultiplyAccumulate(a1, b1, acc3);
    let a2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a_s, 512u, 16u);
    acc4 = subgroupMatrixMultiplyAccumulate(a2, b0, acc4);
    acc5 = subgroupMatrixMultiplyAccumulate(a2, b1, acc5);
    let a3 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a_s, 768u, 16u);
    acc6 = subgroupMatrixMultiplyAccumulate(a3, b0, acc6);
    acc7 = subgroupMatrixMultiplyAccumulate(a3, b1, acc7);
    workgroupBarrier();
  }

  // Each 16 x 16 result goes through workgroup memory, then every lane writes 8 of its elements.
  for (var t = 0u; t < 8u; t++) {
    switch t {
      case 0u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc0, 16u); }
      case 1u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc1, 16u); }
      case 2u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc2, 16u); }
      case 3u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc3, 16u); }
      case 4u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc4, 16u); }
      case 5u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc5, 16u); }
      case 6u: { subgroupMatrixStore<row_major>(&c_s, 0u, acc6, 16u); }
      default: { subgroupMatrixStore<row_major>(&c_s, 0u, acc7, 16u); }
    }
    workgroupBarrier();
    let m0 = (t / 2u) * 16u;
    let n0 = (t % 2u) * 16u;
    for (var e = lid; e < 256u; e += 32u) {
      let co = cob * 64u + m0 + e / 16u;
      let n = n_block + n0 + e % 16u;
      if (co < p.out_c && n < p.n_pos) {
        let g = grid_zyx(n);
        store_y(chunk, batch, co, out_spatial(g.x, g.y, g.z), c_s[e]);
      }
    }
    workgroupBarrier();
  }
}
