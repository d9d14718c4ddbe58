${ENABLE_F16}
#if ${SGW}
enable subgroups;
diagnostic(off, subgroup_uniformity);
#endif
// Weight gradient of a 3D convolution, register-blocked, no workgroup memory:
//   dW[o, i, a, b, c] = sum over n and output voxels v of dy[n, o, v] * x[n, i, v*s - pad + (a, b, c)].
// A GEMM with M = output channels, N = input channels x taps, K = batch x output voxels. Each invocation owns
// TM output channels x one (input channel, a, b) x all KX taps along x; the invocations of a workgroup share the
// output-channel block and the K range, so every dy load is uniform across the workgroup. The K range (rows of
// output voxels) is split over workgroups (wid.y = chunk); each chunk writes its own partial sums and a second
// pass (conv3d_reduce.wgsl) adds the chunks in a fixed order: deterministic, no atomics. When there are fewer
// (input channel, a, b) lanes than a workgroup holds (Cin = 1, 1x1x1 kernels), the workgroup carries `sets`
// copies of the lanes, each on its own K chunk, so no invocation idles.
// SGW (TM = 8, subgroups of at least 8; only with sets = 1, so a subgroup shares its rows): the 8 x TN dy values of
// a step are loaded once per subgroup, one output channel per lane, and handed out with subgroupBroadcast
// (CPU drivers that do not scalarise uniform loads would otherwise gather them in every lane).
// Mixed precision: dy and x may be stored as f16 (T); products and sums are f32, and so are the partials / dW.
struct Params {
  co: u32, ci: u32, n_rows: u32, rows_per_chunk: u32,
  o_d: u32, o_h: u32, o_w: u32,
  i_d: u32, i_h: u32, i_w: u32,
  s_d: u32, s_h: u32,
  p_d: i32, p_h: i32, p_w: i32,
  k_d: u32, k_h: u32, k_vol: u32, n_lanes: u32, sets: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<${T}>;
@group(0) @binding(2) var<storage, read> x: array<${T}>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

const TM: u32 = ${TM}u;
const TN: u32 = ${TN}u;
const SX: u32 = ${SX}u;
const KX: u32 = ${KX}u;
const ROW: u32 = ${ROW}u;

@compute @workgroup_size(${WG})
#if ${SGW}
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sgid: u32) {
#else
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
#endif
  // No early exit and no per-invocation branch in the K loop (on CPU drivers either puts every accumulator
  // update under an execution mask): surplus invocations compute a clamped copy and skip the stores, rows that
  // fall into the zero padding are read from a clamped address and multiplied by zero.
  let flat = wid.x * ${WG}u + lid;
  let live = flat < p.n_lanes * p.sets;
  let flat_c = min(flat, p.n_lanes * p.sets - 1u);
  let cset = flat_c / p.n_lanes;
  let lane = flat_c % p.n_lanes;
  let chunk = wid.y * p.sets + cset;
  let o0 = wid.z * TM;
  let kb = lane % p.k_h;
  let t0 = lane / p.k_h;
  let ka = t0 % p.k_d;
  let ci = t0 / p.k_d;

  var acc: array<f32, ${ACC}>;
  let o_vol = p.o_d * p.o_h * p.o_w;
  let i_vol = p.i_d * p.i_h * p.i_w;
  let iw = i32(p.i_w);
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(p.n_rows, r0 + p.rows_per_chunk);
  let last_o = p.co - 1u;
  for (var r = r0; r < r1; r++) {
    let oy = r % p.o_h;
    let t1 = r / p.o_h;
    let oz = t1 % p.o_d;
    let n = t1 / p.o_d;
    let iz = i32(oz * p.s_d) - p.p_d + i32(ka);
    let iy = i32(oy * p.s_h) - p.p_h + i32(kb);
    let vzy = iz >= 0 && iz < i32(p.i_d) && iy >= 0 && iy < i32(p.i_h);
    let xrow = (n * p.ci + ci) * i_vol + (u32(clamp(iz, 0, i32(p.i_d) - 1)) * p.i_h + u32(clamp(iy, 0, i32(p.i_h) - 1))) * p.i_w;
    let dyrow = n * p.co * o_vol + (oz * p.o_h + oy) * p.o_w;
    for (var gx0 = 0u; gx0 < p.o_w; gx0 += TN) {
      var row: array<f32, ROW>;
      let ix0 = i32(gx0 * SX) - p.p_w;
      for (var j = 0u; j < ROW; j++) {
        let ix = ix0 + i32(j);
        let v = f32(x[xrow + u32(clamp(ix, 0, iw - 1))]);
        row[j] = select(0.0, v, vzy && ix >= 0 && ix < iw);
      }
#if ${SGW}
      let om = o0 + (sgid & 7u);
      let dbm = dyrow + min(om, last_o) * o_vol;
      for (var q = 0u; q < TN; q++) {
        let gx = gx0 + q;
        let dl = select(0.0, f32(dy[dbm + min(gx, p.o_w - 1u)]), gx < p.o_w && om < p.co);
        let d = array<f32, 8>(subgroupBroadcast(dl, 0u), subgroupBroadcast(dl, 1u), subgroupBroadcast(dl, 2u), subgroupBroadcast(dl, 3u),
                              subgroupBroadcast(dl, 4u), subgroupBroadcast(dl, 5u), subgroupBroadcast(dl, 6u), subgroupBroadcast(dl, 7u));
        for (var m = 0u; m < 8u; m++) {
          for (var u = 0u; u < KX; u++) {
            acc[m * KX + u] = fma(d[m], row[q * SX + u], acc[m * KX + u]);
          }
        }
      }
#else
      for (var m = 0u; m < TM; m++) {
        let o = o0 + m;
        let db = dyrow + min(o, last_o) * o_vol;
        for (var q = 0u; q < TN; q++) {
          let gx = gx0 + q;
          let d = select(0.0, f32(dy[db + min(gx, p.o_w - 1u)]), gx < p.o_w && o < p.co);
          for (var u = 0u; u < KX; u++) {
            acc[m * KX + u] = fma(d, row[q * SX + u], acc[m * KX + u]);
          }
        }
      }
#endif
    }
  }

  if (!live) { return; }
  let tap0 = (ka * p.k_h + kb) * KX;
  for (var m = 0u; m < TM; m++) {
    let o = o0 + m;
    if (o >= p.co) { break; }
    let base = ((chunk * p.co + o) * p.ci + ci) * p.k_vol + tap0;
    for (var u = 0u; u < KX; u++) {
      part[base + u] = acc[m * KX + u];
    }
  }
}
