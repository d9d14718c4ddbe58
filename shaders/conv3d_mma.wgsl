// Direct 3D convolution on subgroup matrices (tensor cores): f16 x f16 -> f32 matrices of S x S x S, for adapters
// that offer chromium-experimental-subgroup-matrix with that configuration and a fixed subgroup size SG (NVIDIA:
// S = 16, SG = 32; Mesa lavapipe 26: S = 8, SG = 8). Same geometry as conv3d.wgsl / conv3d_tiled.wgsl (forward
// and per-residue-class input gradient; see conv3d.wgsl).
//
// The GEMM skeleton (one subgroup per BM = 4S output channels x BN = 2S positions, K in steps of S through f16
// tiles in workgroup memory) is shaders/lib/mma_tile.wgsl, appended after this file; here are its three hooks:
// the weight tile (BM x S) and the im2col input tile (S x BN) for K = in-role channels x taps, and the store.
// Inputs are rounded to f16 (accumulation in f32): with f32 activations the variant is offered only when the
// caller allows reduced precision (kernels/conv3d.ts: setConvTensorCores); with f16 activations (mixed
// precision) only the f32 weights are rounded, as autocast does.
//
// Prepended: shaders/lib/conv3d_common.wgsl (directives, uniform block, bindings x / w / bias / y, load_x,
// store_y, split_z, ci_range, grid_zyx). x and y may be stored as f16; every product and sum is f32.

// Per-workgroup and per-lane state set by mma_setup: the block origin, and this lane's B columns (positions
// n_block + lid + SG * j) as input coordinates of tap 0.
var<private> n_block: u32;
var<private> chunk: u32;
var<private> batch: u32;
var<private> cob: u32;
var<private> k_hi: u32;
var<private> start: array<vec4<i32>, PPL>;

fn mma_setup(wid: vec3u, nwg: vec3u, lid: u32) -> vec2u {
  n_block = (wid.y * nwg.x + wid.x) * BN;
  let zc = split_z(wid.z);
  chunk = zc.x;
  batch = zc.y;
  cob = zc.z;
  let cr = ci_range(zc.x);
  // The returned range is computed from uniform values only (a read of a private variable counts as non-uniform).
  let hi = cr.y * p.nt_vol;
  k_hi = hi;
  for (var j = 0u; j < PPL; j++) {
    let n_me = n_block + lid + SG * j;
    let g = grid_zyx(n_me);
    start[j] = vec4<i32>(i32(g.x * p.s_d) + p.off_d, i32(g.y * p.s_h) + p.off_h, i32(g.z * p.s_w) + p.off_w, select(0, 1, n_me < p.n_pos));
  }
  return vec2u(cr.x * p.nt_vol, hi);
}

fn mma_load(k0: u32, lid: u32) {
  // A: for each K row of the step (its channel and tap are the same in every lane), the lanes read BM consecutive
  // output channels of the packed weight [ci][tap][cp] (coalesced), zero past K.
  for (var kr = 0u; kr < S; kr++) {
    let k = k0 + kr;
    let kin = k < k_hi;
    let wbase = select(0u, u32(ktab[min(k, k_hi - 1u)].z) * (p.out_cp4 * 4u) + cob * BM, kin);
    for (var j = 0u; j < BM / SG; j++) {
      let m = lid + SG * j;
      a_s[m * S + kr] = f16(select(0.0, w[wbase + m], kin));
    }
  }
  // B: all S rows of this lane's columns, zero in the padding and past K.
  for (var kr = 0u; kr < S; kr++) {
    let k = k0 + kr;
    let kin = k < k_hi;
    let t = ktab[min(k, k_hi - 1u)];
    for (var j = 0u; j < PPL; j++) {
      b_s[kr * BN + lid + SG * j] = f16(select(0.0, gather_x(t, start[j], batch), kin));
    }
  }
}

fn mma_store(m: u32, n: u32, v: f32) {
  let co = cob * BM + m;
  let pos = n_block + n;
  if (co < p.out_c && pos < p.n_pos) {
    let g = grid_zyx(pos);
    store_y(chunk, batch, co, out_spatial(g.x, g.y, g.z), v);
  }
}
