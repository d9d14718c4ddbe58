// Direct 3D convolution as an implicit GEMM with workgroup-memory tiles (the variant for real GPUs).
// Same geometry as conv3d.wgsl (forward and per-residue-class input gradient; see there): per axis an output
// grid position g reads input g*S + off + u for u < nt with weight tap tb + ts*u, and writes output g*OS + R.
//
// A workgroup of 16 x 16 invocations computes a 64 (output channels) x 64 (output positions) block; each
// invocation a 4 x 4 register tile. K = in-role channels x taps runs in steps of 16: the weight tile
// (16 x 64, vec4 loads from the packed [channel][tap][out] layout) and the im2col input tile (16 x 64, gathered
// with zero padding, through the dispatch's K table: see KTAB in conv3d_common.wgsl) are staged in 8 KiB of
// workgroup memory.
//
// Prepended: shaders/lib/conv3d_common.wgsl (directives, uniform block, bindings x / w / bias / y, load_x,
// store_y, split_z, ci_range, grid_zyx). x and y may be stored as f16; every product and sum is f32.
const BK: u32 = 16u;
var<workgroup> a_tile: array<vec4<f32>, 256>;
var<workgroup> b_tile: array<vec4<f32>, 256>;

// Position n of the dispatch grid -> (input start z, y, x) for tap u = 0; x component of .w = validity.
fn grid_pos(n: u32) -> vec4<i32> {
  let g = grid_zyx(n);
  return vec4<i32>(i32(g.x * p.s_d) + p.off_d, i32(g.y * p.s_h) + p.off_h, i32(g.z * p.s_w) + p.off_w, select(0, 1, n < p.n_pos));
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n_block = (wid.y * nwg.x + wid.x) * 64u;
  let zc = split_z(wid.z);
  let chunk = zc.x;
  let batch = zc.y;
  let cob = zc.z;
  // This chunk's K range: its input channels times the taps.
  let cr = ci_range(chunk);
  let k_lo = cr.x * p.nt_vol;
  let k_hi = cr.y * p.nt_vol;

  // This invocation's im2col column (one output position) for the B-tile loads: rows lid/64 + 4j, j < 4.
  let bcol = lid % 64u;
  let brow = lid / 64u;
  let start = grid_pos(n_block + bcol);
  // A-tile load: row lid/16 of the K step, vec4 column lid%16 (output channels 4*(lid%16) .. +3 of the block).
  let arow = lid / 16u;
  let acol = lid % 16u;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = k_lo; k0 < k_hi; k0 += BK) {
    {
      let k = k0 + arow;
      var v = vec4<f32>(0.0);
      if (k < k_hi) {
        v = w[u32(ktab[k].z) * p.out_cp4 + cob * 16u + acol];
      }
      a_tile[arow * 16u + acol] = v;
    }
    for (var j = 0u; j < 4u; j++) {
      let kr = brow + 4u * j;
      let k = k0 + kr;
      var v = 0.0;
      if (k < k_hi) {
        v = gather_x(ktab[k], start, batch);
      }
      b_tile[kr * 16u + bcol / 4u][bcol % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a = a_tile[kk * 16u + lid3.y];
      let b = b_tile[kk * 16u + lid3.x];
      acc[0] = fma(a, vec4<f32>(b.x), acc[0]);
      acc[1] = fma(a, vec4<f32>(b.y), acc[1]);
      acc[2] = fma(a, vec4<f32>(b.z), acc[2]);
      acc[3] = fma(a, vec4<f32>(b.w), acc[3]);
    }
    workgroupBarrier();
  }

  // acc[j][c]: output channel cob*64 + 4*lid.y + c, grid position n_block + 4*lid.x + j.
  for (var j = 0u; j < 4u; j++) {
    let n = n_block + 4u * lid3.x + j;
    if (n >= p.n_pos) { break; }
    let g = grid_zyx(n);
    let sp = out_spatial(g.x, g.y, g.z);
    for (var c = 0u; c < 4u; c++) {
      let co = cob * 64u + 4u * lid3.y + c;
      if (co < p.out_c) {
        store_y(chunk, batch, co, sp, acc[j][c]);
      }
    }
  }
}
