// The explicit im2col + GEMM path of conv3d (kernels/conv3d_im2col.ts): gather kernels around the engine's f32
// matmul, for deep layers with few output positions and a long K, where one GEMM over a small column matrix runs
// faster than the implicit-GEMM kernels. IM2COL: one invocation per row of x positions (COLT: per channel's taps);
// COL2IM and PERMUTE: one per element written. No atomics, no workgroup memory.
//
// Modes (exactly one define is true):
//   IM2COL   col[n][r][q] = x[n, c, qd*s_d - p_d + kd, qh*s_h - p_h + kh, qw*s_w - p_w + kw], or 0 where the
//            tap lands in the padding; r = c*kvol + (kd*k_h + kh)*k_w + kw runs over K = C*kvol (the row order of
//            a PyTorch weight (out, in, kD, kH, kW) seen as out × K), q over the P output positions.
//            COLT stores the transpose over the whole batch instead: col[n*P + q][r] (the weight-gradient GEMM).
//   COL2IM   dx[n, c, z, y, x] = sum over the taps (kd, kh, kw) with z + p_d - kd = s_d*qd, 0 <= qd < o_d (and
//            likewise for y, x) of dcol[n][c*kvol + tap][q]; + bias[c] with HAS_BIAS. Each dx element sums its own
//            taps, so the gather needs no atomics.
//   PERMUTE  out[c][n*P + q] = x[n][c][q] (dy as Cout × (N·P) for the weight gradient), widened to f32.
// XT: storage type of the activation read (f32 or f16); OT: type of the COL2IM output; SD, SH, SW: the strides as
// constants for COL2IM (its divisibility tests then compile to masks or nothing). Sums are f32, and an f16
// output is rounded once, at the store.
${ENABLE_F16}
struct Params {
  total: u32, ch: u32,
  i_d: u32, i_h: u32, i_w: u32,
  o_d: u32, o_h: u32, o_w: u32,
  k_d: u32, k_h: u32, k_w: u32,
  s_d: u32, s_h: u32, s_w: u32,
  p_d: i32, p_h: i32, p_w: i32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${IM2COL}
@group(0) @binding(1) var<storage, read> x: array<${XT}>;
@group(0) @binding(2) var<storage, read_write> col: array<f32>;
#elif ${COL2IM}
@group(0) @binding(1) var<storage, read> dcol: array<f32>;
#if ${HAS_BIAS}
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<${OT}>;
#else
@group(0) @binding(2) var<storage, read_write> dx: array<${OT}>;
#endif
#else
@group(0) @binding(1) var<storage, read> x: array<${XT}>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (j >= p.total) { return; }
  let npos = p.o_d * p.o_h * p.o_w;
  let kvol = p.k_d * p.k_h * p.k_w;
#if ${IM2COL}
  let kk = p.ch * kvol;
#if ${COLT}
  // One invocation per (n, q, c): the kvol consecutive entries of row n*P + q that belong to channel c.
  let c = j % p.ch;
  let nq = j / p.ch;
  let q = nq % npos;
  let n = nq / npos;
  let qw = q % p.o_w;
  let qh = (q / p.o_w) % p.o_h;
  let qd = q / (p.o_w * p.o_h);
  let xc = (n * p.ch + c) * p.i_d;
  var o = nq * kk + c * kvol;
  for (var kd = 0u; kd < p.k_d; kd++) {
    let iz = i32(qd * p.s_d + kd) - p.p_d;
    for (var kh = 0u; kh < p.k_h; kh++) {
      let iy = i32(qh * p.s_h + kh) - p.p_h;
      let zy = iz >= 0 && iz < i32(p.i_d) && iy >= 0 && iy < i32(p.i_h);
      for (var kw = 0u; kw < p.k_w; kw++) {
        let ix = i32(qw * p.s_w + kw) - p.p_w;
        var v = 0.0;
        if (zy && ix >= 0 && ix < i32(p.i_w)) {
          v = f32(x[((xc + u32(iz)) * p.i_h + u32(iy)) * p.i_w + u32(ix)]);
        }
        col[o] = v;
        o++;
      }
    }
  }
#else
  // One invocation per (n, r, qd, qh): the o_w consecutive entries of one output row of col row n*K + r.
  let qh = j % p.o_h;
  let t1 = j / p.o_h;
  let qd = t1 % p.o_d;
  let nr = t1 / p.o_d;
  let r = nr % kk;
  let n = nr / kk;
  let c = r / kvol;
  let tap = r % kvol;
  let kw = tap % p.k_w;
  let kh = (tap / p.k_w) % p.k_h;
  let kd = tap / (p.k_w * p.k_h);
  let iz = i32(qd * p.s_d + kd) - p.p_d;
  let iy = i32(qh * p.s_h + kh) - p.p_h;
  let zy = iz >= 0 && iz < i32(p.i_d) && iy >= 0 && iy < i32(p.i_h);
  let xrow = select(0u, (((n * p.ch + c) * p.i_d + u32(iz)) * p.i_h + u32(iy)) * p.i_w, zy);
  let o = nr * npos + (qd * p.o_h + qh) * p.o_w;
  for (var qw = 0u; qw < p.o_w; qw++) {
    let ix = i32(qw * p.s_w + kw) - p.p_w;
    var v = 0.0;
    if (zy && ix >= 0 && ix < i32(p.i_w)) {
      v = f32(x[xrow + u32(ix)]);
    }
    col[o + qw] = v;
  }
#endif
#elif ${COL2IM}
  let xw = j % p.i_w;
  let xh = (j / p.i_w) % p.i_h;
  let xd = (j / (p.i_w * p.i_h)) % p.i_d;
  let nc = j / (p.i_w * p.i_h * p.i_d);
  let c = nc % p.ch;
  let n = nc / p.ch;
  let base = (n * p.ch + c) * kvol * npos;
  var s = 0.0;
  for (var kd = 0u; kd < p.k_d; kd++) {
    let tz = i32(xd) + p.p_d - i32(kd);
    if (tz < 0 || u32(tz) % ${SD}u != 0u || u32(tz) / ${SD}u >= p.o_d) { continue; }
    let qd = u32(tz) / ${SD}u;
    for (var kh = 0u; kh < p.k_h; kh++) {
      let ty = i32(xh) + p.p_h - i32(kh);
      if (ty < 0 || u32(ty) % ${SH}u != 0u || u32(ty) / ${SH}u >= p.o_h) { continue; }
      let qh = u32(ty) / ${SH}u;
      for (var kw = 0u; kw < p.k_w; kw++) {
        let tx = i32(xw) + p.p_w - i32(kw);
        if (tx < 0 || u32(tx) % ${SW}u != 0u || u32(tx) / ${SW}u >= p.o_w) { continue; }
        let qw = u32(tx) / ${SW}u;
        let tap = (kd * p.k_h + kh) * p.k_w + kw;
        s += dcol[base + tap * npos + (qd * p.o_h + qh) * p.o_w + qw];
      }
    }
  }
#if ${HAS_BIAS}
  s += bias[c];
#endif
  dx[j] = ${OT}(s);
#else
  let q = j % npos;
  let nc = j / npos;
  let c = nc % p.ch;
  let n = nc / p.ch;
  let nb = p.total / (p.ch * npos);
  outp[(c * nb + n) * npos + q] = f32(x[j]);
#endif
}
