// Direct 3D convolution, register-blocked, no workgroup memory (the variant for every adapter, and the fast one
// on CPU-like adapters where barriers are expensive).
//
// One shader serves the forward pass and the input gradient. Per axis, an output position g of the dispatched
// grid reads input positions g*S + off + u for u in [0, nt) and weight taps tb + ts*u, and writes output
// position g*OS + R. Forward: S = stride, off = -pad, tb = 0, ts = 1, OS = 1, R = 0. Input gradient of a strided
// conv: one dispatch per output residue class R (mod stride), where only the taps congruent to R + pad contribute;
// the taps run backwards (ts = -stride) over a stride-1 window of dy, so no work is spent on the zeros of the
// dilated gradient.
//
// Implicit GEMM: M = output channels (TM per invocation, vec4 weight loads), N = output positions (TN
// consecutive positions along x per invocation), K = input channels x taps. Every invocation of a workgroup
// shares the same output-channel block, so weight loads are uniform across the workgroup. The weights come
// packed as [in-role channel][tap][out-role channel padded to TM] (see conv3d_pack.wgsl).
//
// SGW (TM = 8, subgroups of at least 8): the 8 weights of a tap are loaded once per subgroup, one per lane, and
// handed to every lane with subgroupBroadcast. On CPU drivers that do not scalarise uniform loads (llvmpipe
// before Mesa 25.1) every lane would otherwise gather the same 8 values.
//
// CL (channel lanes; deep levels with few positions and many channels): the invocations of a workgroup share
// one tile of TN positions and take consecutive blocks of TM output channels. Everything but the weights is then
// workgroup-uniform (the x row loads, the loop bounds), and the z / y taps that only see zero padding are not
// visited at all.
//
// Prepended: shaders/lib/conv3d_common.wgsl (directives, uniform block, bindings x / w / bias / y, load_x,
// store_y, split_z, ci_range). x and y may be stored as f16; every product and sum is f32.
const TM4: u32 = ${TM4}u;
const TN: u32 = ${TN}u;
const SX: u32 = ${SX}u;
const KX: u32 = ${KX}u;
const ROW: u32 = ${ROW}u;

@compute @workgroup_size(${WG})
#if ${SGW}
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sgid: u32) {
#else
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
#endif
  // No early exit and no per-invocation branches inside the K loop: on CPU drivers a divergent branch puts every
  // later accumulator update under an execution mask. Invocations past the last tile compute on a clamped tile
  // and skip the stores; taps that fall into the zero padding read a clamped address and select 0.
  let n_cells = p.g_d * p.g_h * p.g_wb;
  let zc = split_z(wid.z);
  let chunk = zc.x;
  let n = zc.y;
#if ${CL}
  // Channel lanes: the workgroup owns one output tile position (uniform), its invocations own consecutive
  // output-channel blocks (p.n_cob counts groups of WG blocks here).
  let cell_raw = wid.y * nwg.x + wid.x;
  let n_cob_real = p.out_cp4 / TM4;
  let cob_raw = zc.z * ${WG}u + lid;
  let live = cell_raw < n_cells && cob_raw < n_cob_real;
  let cob = min(cob_raw, n_cob_real - 1u);
#else
  let cell_raw = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  let live = cell_raw < n_cells;
  let cob = zc.z;
#endif
  let cell = min(cell_raw, n_cells - 1u);
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
#if ${CL}
  // The tile position is workgroup-uniform, so the z / y taps that fall into the zero padding are skipped with
  // uniform loop bounds (no execution mask): at 4^3 with a 3^3 kernel that is 42 % of the taps.
  let uz_lo = u32(clamp(-iz0, 0, i32(p.nt_d)));
  let uz_hi = u32(clamp(id - iz0, 0, i32(p.nt_d)));
  let uy_lo = u32(clamp(-iy0, 0, i32(p.nt_h)));
  let uy_hi = u32(clamp(ih - iy0, 0, i32(p.nt_h)));
#else
  let uz_lo = 0u;
  let uz_hi = p.nt_d;
  let uy_lo = 0u;
  let uy_hi = p.nt_h;
#endif

  for (var ci = cr.x; ci < cr.y; ci++) {
    let xb = (n * p.in_c + ci) * in_vol;
    let wb = ci * p.k_vol;
    for (var uz = uz_lo; uz < uz_hi; uz++) {
      let iz = iz0 + i32(uz);
      let vz = iz >= 0 && iz < id;
      let tz = u32(p.tb_d + p.ts_d * i32(uz));
      for (var uy = uy_lo; uy < uy_hi; uy++) {
        let iy = iy0 + i32(uy);
        let vzy = vz && iy >= 0 && iy < ih;
        let ty = u32(p.tb_h + p.ts_h * i32(uy));
        let rb = xb + (u32(clamp(iz, 0, id - 1)) * p.i_h + u32(clamp(iy, 0, ih - 1))) * p.i_w;
        var row: array<f32, ROW>;
        for (var j = 0u; j < ROW; j++) {
          let ix = ix0 + i32(j);
          let v = load_x(rb + u32(clamp(ix, 0, iw - 1)));
          row[j] = select(0.0, v, vzy && ix >= 0 && ix < iw);
        }
        let wt = (wb + (tz * p.k_h + ty) * p.k_w);
        for (var u = 0u; u < KX; u++) {
#if ${SGW}
          let wi = ((wt + u32(p.tb_w + p.ts_w * i32(u))) * p.out_cp4 + wc) * 4u + (sgid & 7u);
          let wl = w[wi >> 2u][wi & 3u];
          let wa = vec4<f32>(subgroupBroadcast(wl, 0u), subgroupBroadcast(wl, 1u), subgroupBroadcast(wl, 2u), subgroupBroadcast(wl, 3u));
          let wz = vec4<f32>(subgroupBroadcast(wl, 4u), subgroupBroadcast(wl, 5u), subgroupBroadcast(wl, 6u), subgroupBroadcast(wl, 7u));
          for (var q = 0u; q < TN; q++) {
            let r = vec4<f32>(row[q * SX + u]);
            acc[q * 2u] = fma(r, wa, acc[q * 2u]);
            acc[q * 2u + 1u] = fma(r, wz, acc[q * 2u + 1u]);
          }
#else
          let wi = (wt + u32(p.tb_w + p.ts_w * i32(u))) * p.out_cp4 + wc;
          for (var m = 0u; m < TM4; m++) {
            let wv = w[wi + m];
            for (var q = 0u; q < TN; q++) {
              acc[q * TM4 + m] = fma(vec4<f32>(row[q * SX + u]), wv, acc[q * TM4 + m]);
            }
          }
#endif
        }
      }
    }
  }
  if (!live) { return; }

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
