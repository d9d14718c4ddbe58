// The explicit im2col + GEMM path of conv3d (kernels/conv3d_im2col.ts): gather kernels around the engine's f32
// matmul, for deep layers with few output positions and a long K, where one GEMM over a small column matrix runs
// faster than the implicit-GEMM kernels. IM2COL: one invocation per (channel, kd, kh, output row), which loads the
// x row those taps read once and writes the k_w column rows of it (COLT: per channel's taps); COL2IM and PERMUTE:
// one per element written. No atomics, no workgroup memory.
//
// Modes (exactly one define is true):
//   IM2COL   col[n][r][q] = x[n, c, qd*s_d - p_d + kd, qh*s_h - p_h + kh, qw*s_w - p_w + kw], or 0 where the
//            tap lands in the padding; r = c*kvol + (kd*k_h + kh)*k_w + kw runs over K = C*kvol (the row order of
//            a PyTorch weight (out, in, kD, kH, kW) seen as out × K), q over the P output positions.
//            COLT stores the transpose over the whole batch instead: col[n*P + q][r] (the weight-gradient GEMM).
//   COL2IM   dx[n, c, z, y, x] = sum over the taps (kd, kh, kw) with z + p_d - kd = s_d*qd, 0 <= qd < o_d (and
//            likewise for y, x) of dcol[n][c*kvol + tap][q]; + bias[c] with HAS_BIAS. Each dx element sums its own
//            taps (only kd = (z + p_d) mod s_d, + s_d, ... are visited), so the gather needs no atomics. One
//            invocation per row segment of a stride class (NC = N*C), class by class, so a workgroup's taps are uniform.
//   PERMUTE  out[c][n*P + q] = x[n][c][q] (dy as Cout × (N·P) for the weight gradient), widened to f32.
// GEOM (IM2COL without COLT, and COL2IM): the whole geometry is compile-time (CH, ID … PW → the G_* constants), so
// the index divisions and loop bounds compile to multiplications and constants (a per-element integer division is
// the dominant cost of a gather on a CPU driver); the other modes read it from the uniform block.
// XT: storage type of the activation read (f32 or f16); OT: type of the COL2IM output. Sums are f32, and an f16
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

#if ${GEOM}
// The geometry as constants (IM2COL without COLT, COL2IM).
const G_CH = ${CH}u;
const G_ID = ${ID}u;
const G_IH = ${IH}u;
const G_IW = ${IW}u;
const G_OD = ${OD}u;
const G_OH = ${OH}u;
const G_OW = ${OW}u;
const G_KD = ${KD}u;
const G_KH = ${KH}u;
const G_KW = ${KW}u;
const G_SD = ${SD}u;
const G_SH = ${SH}u;
const G_SW = ${SW}u;
const G_PD = ${PD}i;
const G_PH = ${PH}i;
const G_PW = ${PW}i;
const G_KVOL = G_KD * G_KH * G_KW;
const G_NPOS = G_OD * G_OH * G_OW;
const G_ROW = (G_OW - 1u) * G_SW + G_KW;
const G_NC = ${NC}u;
const G_GD = (G_ID + G_SD - 1u) / G_SD;
const G_GH = (G_IH + G_SH - 1u) / G_SH;
const G_GW = (G_IW + G_SW - 1u) / G_SW;
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
  // One invocation per (n, c, kd, kh, qd, qh): loads the ROW x values that output row (qd, qh) reads through the
  // taps (kd, kh, 0 .. KW-1) once, then writes the KW column rows (c, kd, kh, kw) of that output row from them.
  // The geometry is compile-time (G_* defines), so the index arithmetic compiles to multiplications.
  let qh = j % G_OH;
  let t1 = j / G_OH;
  let qd = t1 % G_OD;
  let t2 = t1 / G_OD;
  let kh = t2 % G_KH;
  let t3 = t2 / G_KH;
  let kd = t3 % G_KD;
  let nc = t3 / G_KD;
  let iz = i32(qd * G_SD + kd) - G_PD;
  let iy = i32(qh * G_SH + kh) - G_PH;
  let zy = iz >= 0 && iz < i32(G_ID) && iy >= 0 && iy < i32(G_IH);
  let xrow = select(0u, ((nc * G_ID + u32(iz)) * G_IH + u32(iy)) * G_IW, zy);
  var row: array<f32, G_ROW>;
  for (var i = 0u; i < G_ROW; i++) {
    let ix = i32(i) - G_PW;
    var v = 0.0;
    if (zy && ix >= 0 && ix < i32(G_IW)) {
      v = f32(x[xrow + u32(ix)]);
    }
    row[i] = v;
  }
  let o = (nc * G_KVOL + (kd * G_KH + kh) * G_KW) * G_NPOS + (qd * G_OH + qh) * G_OW;
  for (var kw = 0u; kw < G_KW; kw++) {
    for (var qw = 0u; qw < G_OW; qw++) {
      col[o + kw * G_NPOS + qw] = row[qw * G_SW + kw];
    }
  }
#endif
#elif ${COL2IM}
  // One invocation per dx row segment of one stride class: (rz, ry, rx) (slowest, so a workgroup's taps are
  // uniform), (n, c), (md, mh), and all G_GW positions mw of the class along x, x = mw*s_w + rx. Its taps are
  // k = (residue + pad) mod stride, + stride, ...; along x tap kw reads qw = mw + (rx + p_w - kw) / s_w.
  let mh = j % G_GH;
  let md = (j / G_GH) % G_GD;
  let t1 = j / (G_GH * G_GD);
  let nc = t1 % G_NC;
  let cls = t1 / G_NC;
  let rx = cls % G_SW;
  let ry = (cls / G_SW) % G_SH;
  let rz = cls / (G_SW * G_SH);
  let xh = mh * G_SH + ry;
  let xd = md * G_SD + rz;
  if (xh >= G_IH || xd >= G_ID) { return; }
  let base = nc * G_KVOL * G_NPOS;
  var acc: array<f32, G_GW>;
  for (var kd = (rz + u32(G_PD)) % G_SD; kd < G_KD; kd += G_SD) {
    let tz = i32(xd) + G_PD - i32(kd);
    let qd = u32(max(tz, 0)) / G_SD;
    let okd = tz >= 0 && qd < G_OD;
    for (var kh = (ry + u32(G_PH)) % G_SH; kh < G_KH; kh += G_SH) {
      let ty = i32(xh) + G_PH - i32(kh);
      let qh = u32(max(ty, 0)) / G_SH;
      if (!(okd && ty >= 0 && qh < G_OH)) { continue; }
      let rowbase = base + (kd * G_KH + kh) * G_KW * G_NPOS + (qd * G_OH + qh) * G_OW;
      for (var kw = (rx + u32(G_PW)) % G_SW; kw < G_KW; kw += G_SW) {
        let dq = (i32(rx) + G_PW - i32(kw)) / i32(G_SW);
        let rb = rowbase + kw * G_NPOS;
        for (var mw = 0u; mw < G_GW; mw++) {
          let qw = i32(mw) + dq;
          if (qw >= 0 && qw < i32(G_OW)) { acc[mw] += dcol[rb + u32(qw)]; }
        }
      }
    }
  }
  let c = nc % G_CH;
  let xo = ((nc * G_ID + xd) * G_IH + xh) * G_IW + rx;
  for (var mw = 0u; mw < G_GW; mw++) {
    if (mw * G_SW + rx < G_IW) {
#if ${HAS_BIAS}
      dx[xo + mw * G_SW] = ${OT}(acc[mw] + bias[c]);
#else
      dx[xo + mw * G_SW] = ${OT}(acc[mw]);
#endif
    }
  }
#else
  let q = j % npos;
  let nc = j / npos;
  let c = nc % p.ch;
  let n = nc / p.ch;
  let nb = p.total / (p.ch * npos);
  outp[(c * nb + n) * npos + q] = f32(x[j]);
#endif
}
