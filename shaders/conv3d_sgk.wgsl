// Direct 3D convolution, register-blocked, split-K across subgroup lanes (the variant for deep layers on GPUs:
// few output positions, many input channels). Same geometry and weight packing as conv3d.wgsl (see there).
// KS consecutive invocations (all in one subgroup: KS <= the adapter's minimum subgroup size) share one output
// tile of TM channels x TN positions and take input channels ci = lane, lane + KS, ...; a butterfly of
// subgroupShuffleXor adds their accumulators and lane 0 writes. Control flow around the shuffles stays uniform:
// out-of-range tiles compute on clamped positions and skip the write.
//
// Prepended: shaders/lib/conv3d_common.wgsl (directives, uniform block, bindings x / w / bias / y, load_x,
// store_y, split_z, ci_range, grid_zyx). x and y may be stored as f16; every product and sum is f32.
const TM4: u32 = ${TM4}u;
const TN: u32 = ${TN}u;
const SX: u32 = ${SX}u;
const KX: u32 = ${KX}u;
const ROW: u32 = ${ROW}u;
const KS: u32 = ${KS}u;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n_cells = p.g_d * p.g_h * p.g_wb;
  let kl = lid % KS;
  let cell_raw = (wid.y * nwg.x + wid.x) * (${WG}u / KS) + lid / KS;
  let live = cell_raw < n_cells;
  let cell = min(cell_raw, n_cells - 1u);
  let zc = split_z(wid.z);
  let chunk = zc.x;
  let n = zc.y;
  let cob = zc.z;
  let cr = ci_range(chunk);
  let gxb = cell % p.g_wb;
  let gzy = cell / p.g_wb;
  let gy = gzy % p.g_h;
  let gz = gzy / p.g_h;

  var acc: array<vec4<f32>, ${ACC}>;
  let in_vol = p.i_d * p.i_h * p.i_w;
  let iw = i32(p.i_w);
  let ih = i32(p.i_h);
  let id = i32(p.i_d);
  let ix0 = i32(gxb * TN * SX) + p.off_w;
  let iz0 = i32(gz * p.s_d) + p.off_d;
  let iy0 = i32(gy * p.s_h) + p.off_h;
  let wc = cob * TM4;

  for (var cb = cr.x; cb < cr.y; cb += KS) {
    // Lanes past the chunk's last channel read channel cr.y - 1 and multiply it by zero.
    let ci = min(cb + kl, cr.y - 1u);
    let cz = select(0.0, 1.0, cb + kl < cr.y);
    let xb = (n * p.in_c + ci) * in_vol;
    let wb = ci * p.k_vol;
    for (var uz = 0u; uz < p.nt_d; uz++) {
      let iz = iz0 + i32(uz);
      let vz = iz >= 0 && iz < id;
      let tz = u32(p.tb_d + p.ts_d * i32(uz));
      for (var uy = 0u; uy < p.nt_h; uy++) {
        let iy = iy0 + i32(uy);
        let vzy = vz && iy >= 0 && iy < ih;
        let ty = u32(p.tb_h + p.ts_h * i32(uy));
        let rb = xb + (u32(clamp(iz, 0, id - 1)) * p.i_h + u32(clamp(iy, 0, ih - 1))) * p.i_w;
        var row: array<f32, ROW>;
        for (var j = 0u; j < ROW; j++) {
          let ix = ix0 + i32(j);
          let v = load_x(rb + u32(clamp(ix, 0, iw - 1)));
          row[j] = select(0.0, v, vzy && ix >= 0 && ix < iw) * cz;
        }
        let wt = (wb + (tz * p.k_h + ty) * p.k_w);
        for (var u = 0u; u < KX; u++) {
          let wi = (wt + u32(p.tb_w + p.ts_w * i32(u))) * p.out_cp4 + wc;
          for (var m = 0u; m < TM4; m++) {
            let wv = w[wi + m];
            for (var q = 0u; q < TN; q++) {
              acc[q * TM4 + m] = fma(vec4<f32>(row[q * SX + u]), wv, acc[q * TM4 + m]);
            }
          }
        }
      }
    }
  }
  for (var sh = 1u; sh < KS; sh = sh * 2u) {
    for (var i = 0u; i < ${ACC}u; i++) {
      acc[i] += subgroupShuffleXor(acc[i], sh);
    }
  }
  if (!live || kl != 0u) { return; }

  for (var q = 0u; q < TN; q++) {
    let gx = gxb * TN + q;
    if (gx >= p.g_w) { break; }
    let sp = out_spatial(gz, gy, gx);
    for (var m = 0u; m < TM4; m++) {
      for (var c = 0u; c < 4u; c++) {
        let co = (wc + m) * 4u + c;
        if (co < p.out_c) {
          store_y(chunk, n, co, sp, acc[q * TM4 + m][c]);
        }
      }
    }
  }
}
