// Shared prologue of the direct conv3d kernels (conv3d.wgsl, conv3d_sgk.wgsl, conv3d_tiled.wgsl,
// conv3d_mma.wgsl): kernels/conv3d.ts prepends it to each of them. It carries the directives (WGSL wants every
// `enable` before the first declaration), the uniform block, the four bindings and the index helpers.
//
// Defines:
//   ENABLE_F16  'enable f16;' when a storage type is f16 or the kernel uses f16 matrices, else ''
//   SUBGROUPS   enable subgroups (subgroupBroadcast / subgroupShuffleXor)
//   MMA         enable chromium_experimental_subgroup_matrix
//   XT          storage type of the input x (f32 or f16); loads widen to f32 (load_x)
//   WT          element type of the packed weight: vec4<f32> (register and tiled kernels) or f32 (mma)
//   YT          storage type of the output y (f32 or f16; f32 for split-K partial sums); stores narrow (store_y)
//   HAS_BIAS    binding 3 is a per-output-channel f32 bias added before the store
//   KTAB        the staged kernels (tiled, mma): the last binding is this dispatch's K table (kernels/conv3d.ts
//               kTable), one vec4<i32> per K index k = (in-role channel, tap): .x the input offset
//               channel * in_vol + (uz * i_h + uy) * i_w + ux, .y the tap offsets uz | uy << 8 | ux << 16, .z the
//               packed-weight row channel * k_vol + tap. It replaces five integer divisions by uniform values per
//               element gathered (each tens of instructions on a GPU) with one load every lane shares.
//
// Geometry (see conv3d.wgsl): per axis, grid position g reads input g*S + off + u for u < nt with weight tap
// tb + ts*u, and writes output g*OS + R. The uniform block is written by kernels/conv3d.ts (direct()) in exactly
// this field order. Split-K (ci_chunk < in_c): dispatch z = (chunk, batch, channel block), and chunk c covers input
// channels [c*ci_chunk, (c+1)*ci_chunk) and writes its partial sums at y offset c*part_stride.
${ENABLE_F16}
#if ${SUBGROUPS}
enable subgroups;
diagnostic(off, subgroup_uniformity);
#endif
#if ${MMA}
enable chromium_experimental_subgroup_matrix;
#endif

struct Params {
  in_c: u32, out_c: u32, out_cp4: u32, n_cob: u32,
  i_d: u32, i_h: u32, i_w: u32,
  o_d: u32, o_h: u32, o_w: u32,
  g_d: u32, g_h: u32, g_w: u32, g_wb: u32,
  s_d: u32, s_h: u32,
  off_d: i32, off_h: i32, off_w: i32,
  tb_d: i32, tb_h: i32, tb_w: i32,
  ts_d: i32, ts_h: i32, ts_w: i32,
  nt_d: u32, nt_h: u32,
  os_d: u32, os_h: u32, os_w: u32,
  r_d: u32, r_h: u32, r_w: u32,
  k_h: u32, k_w: u32, k_vol: u32,
  s_w: u32, nt_w: u32, nt_hw: u32, nt_vol: u32, k_total: u32, n_pos: u32,
  n_batch: u32, ci_chunk: u32, part_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${XT}>;
@group(0) @binding(2) var<storage, read> w: array<${WT}>;
#if ${HAS_BIAS}
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<${YT}>;
#if ${KTAB}
@group(0) @binding(5) var<storage, read> ktab: array<vec4<i32>>;
#endif
#else
@group(0) @binding(3) var<storage, read_write> y: array<${YT}>;
#if ${KTAB}
@group(0) @binding(4) var<storage, read> ktab: array<vec4<i32>>;
#endif
#endif

// Element i of x, widened to f32 (all accumulation is f32 whatever the storage type).
fn load_x(i: u32) -> f32 {
  return f32(x[i]);
}

#if ${KTAB}
// Element (K index k, grid position whose tap-0 input corner is start = (z, y, x)) of the im2col matrix of batch
// sample `batch`: x at the tap's position, or 0 in the padding (start.w = 0: a position past the grid).
fn gather_x(t: vec4<i32>, start: vec4<i32>, batch: u32) -> f32 {
  let iz = start.x + (t.y & 255);
  let iy = start.y + ((t.y >> 8u) & 255);
  let ix = start.z + (t.y >> 16u);
  if (start.w == 0 || iz < 0 || iz >= i32(p.i_d) || iy < 0 || iy >= i32(p.i_h) || ix < 0 || ix >= i32(p.i_w)) {
    return 0.0;
  }
  return load_x(u32(i32(batch * p.in_c * p.i_d * p.i_h * p.i_w) + t.x + (start.x * i32(p.i_h) + start.y) * i32(p.i_w) + start.z));
}
#endif

// Flat offset of grid position (gz, gy, gx) in one output channel's volume: g*OS + R per axis.
fn out_spatial(gz: u32, gy: u32, gx: u32) -> u32 {
  return ((gz * p.os_d + p.r_d) * p.o_h + gy * p.os_h + p.r_h) * p.o_w + gx * p.os_w + p.r_w;
}

// y[chunk part, batch n, channel co, spatial sp] = v (+ bias[co]), narrowed to the storage type.
fn store_y(chunk: u32, n: u32, co: u32, sp: u32, v: f32) {
  let i = chunk * p.part_stride + (n * p.out_c + co) * (p.o_d * p.o_h * p.o_w) + sp;
#if ${HAS_BIAS}
  y[i] = ${YT}(v + bias[co]);
#else
  y[i] = ${YT}(v);
#endif
}

// Dispatch z -> (K chunk, batch, output-channel block); z = (chunk * n_batch + n) * n_cob + cob.
fn split_z(z: u32) -> vec3u {
  let cob = z % p.n_cob;
  let t = z / p.n_cob;
  return vec3u(t / p.n_batch, t % p.n_batch, cob);
}

// Input-channel range [start, end) of K chunk c.
fn ci_range(c: u32) -> vec2u {
  let c0 = c * p.ci_chunk;
  return vec2u(c0, min(p.in_c, c0 + p.ci_chunk));
}

// Grid position n (x fastest) -> (gz, gy, gx).
fn grid_zyx(n: u32) -> vec3u {
  let gx = n % p.g_w;
  let t = n / p.g_w;
  return vec3u(t / p.g_h, t % p.g_h, gx);
}
