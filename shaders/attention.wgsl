// Memory-aware attention O = softmax(scale·Q·Kᵀ)·V, batched (heads folded into the batch), never forming the T×S
// score matrix. Q [B, T, D], K [B, S, D], V [B, S, E], O [B, T, E], LSE [B, T] (log-sum-exp of each score row); D and E
// are uniforms (constant trip counts make CPU drivers unroll for minutes), workgroup arrays are sized for 64·NC.
//   FWD    RQ query rows per workgroup; key tiles of KT = 64 (one key per invocation); online softmax with a running
//          max and sum per row; O accumulated in registers (channels c = lid + 64·j)
//   DELTA  delta[t] = Σ_e dO[t, e]·O[t, e]
//   DQ     RQ query rows per workgroup, key tiles recomputed: P = exp(scale·q·k − lse), dS = P·(dO·v − delta),
//          dQ = scale·Σ dS·k
//   DKV    RK keys per workgroup, query tiles of 64 recomputed: dV = Σ P·dO, dK = scale·Σ dS·q
// The three tiled stages share one shape: RQ rows of one operand pair are staged in workgroup memory (wa: D channels,
// wb: E channels, see stage_rows) and each invocation takes dot products of one row of the other pair against them
// (row_dots): FWD stages q (wa) against k; DQ stages q, dO against k, v; DKV stages k, v against q, dO.
// F16: q, k, v, o and dO are f16 (packed two to a u32 word) and read into f32; scores, softmax statistics, every
// sum and every output (O, LSE, delta, dQ, dK, dV) are f32 — kernels/attention.ts rounds O and the gradients once.
#if ${F16}
enable f16;
#endif
struct Params { t: u32, s: u32, d: u32, e: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
const TILE = 64u;
const NEG = -3.0e38;

#if ${DELTA}
@group(0) @binding(1) var<storage, read> o: array<${ACT}>;
@group(0) @binding(2) var<storage, read> dout: array<${ACT}>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;
#if ${F16}
fn ld_o(i: u32) -> f32 { return f32(bitcast<vec2<f16>>(o[i >> 1u])[i & 1u]); }
fn ld_g(i: u32) -> f32 { return f32(bitcast<vec2<f16>>(dout[i >> 1u])[i & 1u]); }
#else
fn ld_o(i: u32) -> f32 { return o[i]; }
fn ld_g(i: u32) -> f32 { return dout[i]; }
#endif
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // p.t here is the total number of rows B·T
  let row = gid.y * nwg.x * 64u + gid.x;
  if (row >= p.t) { return; }
  var s = 0.0;
  for (var e = 0u; e < p.e; e++) { s += ld_o(row * p.e + e) * ld_g(row * p.e + e); }
  delta[row] = s;
}
#else
const RQ = ${RQ}u;
@group(0) @binding(1) var<storage, read> q: array<${ACT}>;
@group(0) @binding(2) var<storage, read> k: array<${ACT}>;
@group(0) @binding(3) var<storage, read> v: array<${ACT}>;
#if ${F16}
fn ld_q(i: u32) -> f32 { return f32(bitcast<vec2<f16>>(q[i >> 1u])[i & 1u]); }
fn ld_k(i: u32) -> f32 { return f32(bitcast<vec2<f16>>(k[i >> 1u])[i & 1u]); }
fn ld_v(i: u32) -> f32 { return f32(bitcast<vec2<f16>>(v[i >> 1u])[i & 1u]); }
#else
fn ld_q(i: u32) -> f32 { return q[i]; }
fn ld_k(i: u32) -> f32 { return k[i]; }
fn ld_v(i: u32) -> f32 { return v[i]; }
#endif
var<workgroup> wa: array<f32, ${RQD}>;

// wa[r, c] = A[(base + r0 + r)·D + c] for r < RQ (zeros past row `rows`), B likewise into wb with E channels.
fn stage_rows(lid: u32, r0: u32, rows: u32, base: u32) {
  for (var i = lid; i < RQ * p.d; i += 64u) {
    let r = r0 + i / p.d;
    wa[i] = select(0.0, ld_a((base + min(r, rows - 1u)) * p.d + i % p.d), r < rows);
  }
#if ${FWD}
#else
  for (var i = lid; i < RQ * p.e; i += 64u) {
    let r = r0 + i / p.e;
    wb[i] = select(0.0, ld_b((base + min(r, rows - 1u)) * p.e + i % p.e), r < rows);
  }
#endif
}

// The RQ dot products of the staged rows with one row of the other pair: x[r] = Σ_c wa[r, c]·X[xb + c] and (not in
// FWD) y[r] = Σ_c wb[r, c]·Y[yb + c].
struct Dots { x: array<f32, ${RQ}>, y: array<f32, ${RQ}> }
fn row_dots(xb: u32, yb: u32) -> Dots {
  var d: Dots;
  for (var r = 0u; r < RQ; r++) { d.x[r] = 0.0; d.y[r] = 0.0; }
  for (var c = 0u; c < p.d; c++) {
    let xv = ld_x(xb + c);
    for (var r = 0u; r < RQ; r++) { d.x[r] += wa[r * p.d + c] * xv; }
  }
#if ${FWD}
#else
  for (var c = 0u; c < p.e; c++) {
    let yv = ld_y(yb + c);
    for (var r = 0u; r < RQ; r++) { d.y[r] += wb[r * p.e + c] * yv; }
  }
#endif
  return d;
}
#endif

#if ${FWD}
const NC = ${NCE}u;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
fn ld_a(i: u32) -> f32 { return ld_q(i); }
fn ld_x(i: u32) -> f32 { return ld_k(i); }
var<workgroup> ps: array<f32, ${RQT}>;
var<workgroup> rowm: array<f32, ${RQ}>;
var<workgroup> rowl: array<f32, ${RQ}>;
var<workgroup> rowc: array<f32, ${RQ}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = wid.y;
  let t0 = wid.x * RQ;
  stage_rows(lid, t0, p.t, bi * p.t);
  if (lid < RQ) {
    rowm[lid] = NEG;
    rowl[lid] = 0.0;
  }
  var acc: array<f32, ${RQNCE}>;
  for (var i = 0u; i < RQ * NC; i++) { acc[i] = 0.0; }
  workgroupBarrier();
  for (var s0 = 0u; s0 < p.s; s0 += TILE) {
    let sj = s0 + lid;
    if (sj < p.s) {
      let sc = row_dots((bi * p.s + sj) * p.d, 0u).x;
      for (var r = 0u; r < RQ; r++) { ps[r * TILE + lid] = sc[r] * p.scale; }
    } else {
      for (var r = 0u; r < RQ; r++) { ps[r * TILE + lid] = NEG; }
    }
    workgroupBarrier();
    if (lid < RQ) {
      let r = lid;
      var mt = rowm[r];
      for (var j = 0u; j < TILE; j++) { mt = max(mt, ps[r * TILE + j]); }
      let corr = exp(rowm[r] - mt);
      var l = rowl[r] * corr;
      for (var j = 0u; j < TILE; j++) {
        let e = exp(ps[r * TILE + j] - mt);
        ps[r * TILE + j] = e;
        l += e;
      }
      rowm[r] = mt;
      rowl[r] = l;
      rowc[r] = corr;
    }
    workgroupBarrier();
    let n = min(TILE, p.s - s0);
    for (var r = 0u; r < RQ; r++) {
      let corr = rowc[r];
      for (var jc = 0u; jc < NC; jc++) { acc[r * NC + jc] *= corr; }
    }
    for (var j = 0u; j < n; j++) {
      let vb = (bi * p.s + s0 + j) * p.e;
      for (var jc = 0u; jc < NC; jc++) {
        let c = lid + 64u * jc;
        if (c < p.e) {
          let vv = ld_v(vb + c);
          for (var r = 0u; r < RQ; r++) { acc[r * NC + jc] += ps[r * TILE + j] * vv; }
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < RQ; r++) {
    let t = t0 + r;
    if (t < p.t) {
      let inv = 1.0 / rowl[r];
      for (var jc = 0u; jc < NC; jc++) {
        let c = lid + 64u * jc;
        if (c < p.e) { o[(bi * p.t + t) * p.e + c] = acc[r * NC + jc] * inv; }
      }
      if (lid == 0u) { lse[bi * p.t + t] = rowm[r] + log(rowl[r]); }
    }
  }
}
#elif ${DQ}
const NC = ${NCD}u;
@group(0) @binding(4) var<storage, read> dout: array<${ACT}>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
#if ${F16}
fn ld_g(i: u32) -> f32 { return f32(bitcast<vec2<f16>>(dout[i >> 1u])[i & 1u]); }
#else
fn ld_g(i: u32) -> f32 { return dout[i]; }
#endif
fn ld_a(i: u32) -> f32 { return ld_q(i); }
fn ld_b(i: u32) -> f32 { return ld_g(i); }
fn ld_x(i: u32) -> f32 { return ld_k(i); }
fn ld_y(i: u32) -> f32 { return ld_v(i); }
var<workgroup> wb: array<f32, ${RQE}>;
var<workgroup> ps: array<f32, ${RQT}>;
var<workgroup> rl: array<f32, ${RQ}>;
var<workgroup> rd: array<f32, ${RQ}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = wid.y;
  let t0 = wid.x * RQ;
  stage_rows(lid, t0, p.t, bi * p.t);
  if (lid < RQ) {
    let t = min(t0 + lid, p.t - 1u);
    rl[lid] = lse[bi * p.t + t];
    rd[lid] = delta[bi * p.t + t];
  }
  var acc: array<f32, ${RQNCD}>;
  for (var i = 0u; i < RQ * NC; i++) { acc[i] = 0.0; }
  workgroupBarrier();
  for (var s0 = 0u; s0 < p.s; s0 += TILE) {
    let sj = s0 + lid;
    if (sj < p.s) {
      let dots = row_dots((bi * p.s + sj) * p.d, (bi * p.s + sj) * p.e);
      for (var r = 0u; r < RQ; r++) {
        let pr = exp(dots.x[r] * p.scale - rl[r]);
        ps[r * TILE + lid] = pr * (dots.y[r] - rd[r]);
      }
    } else {
      for (var r = 0u; r < RQ; r++) { ps[r * TILE + lid] = 0.0; }
    }
    workgroupBarrier();
    let n = min(TILE, p.s - s0);
    for (var j = 0u; j < n; j++) {
      let kb = (bi * p.s + s0 + j) * p.d;
      for (var jc = 0u; jc < NC; jc++) {
        let c = lid + 64u * jc;
        if (c < p.d) {
          let kv = ld_k(kb + c);
          for (var r = 0u; r < RQ; r++) { acc[r * NC + jc] += ps[r * TILE + j] * kv; }
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < RQ; r++) {
    let t = t0 + r;
    if (t < p.t) {
      for (var jc = 0u; jc < NC; jc++) {
        let c = lid + 64u * jc;
        if (c < p.d) { dq[(bi * p.t + t) * p.d + c] = acc[r * NC + jc] * p.scale; }
      }
    }
  }
}
#elif ${DKV}
const NCD = ${NCD}u;
const NCE = ${NCE}u;
@group(0) @binding(4) var<storage, read> dout: array<${ACT}>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
#if ${F16}
fn ld_g(i: u32) -> f32 { return f32(bitcast<vec2<f16>>(dout[i >> 1u])[i & 1u]); }
#else
fn ld_g(i: u32) -> f32 { return dout[i]; }
#endif
fn ld_a(i: u32) -> f32 { return ld_k(i); }
fn ld_b(i: u32) -> f32 { return ld_v(i); }
fn ld_x(i: u32) -> f32 { return ld_q(i); }
fn ld_y(i: u32) -> f32 { return ld_g(i); }
var<workgroup> wb: array<f32, ${RQE}>;
var<workgroup> pp: array<f32, ${RQT}>;
var<workgroup> dd: array<f32, ${RQT}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = wid.y;
  let s0 = wid.x * RQ;
  stage_rows(lid, s0, p.s, bi * p.s);
  var ak: array<f32, ${RQNCD}>;
  var av: array<f32, ${RQNCE}>;
  for (var i = 0u; i < RQ * NCD; i++) { ak[i] = 0.0; }
  for (var i = 0u; i < RQ * NCE; i++) { av[i] = 0.0; }
  workgroupBarrier();
  for (var t0 = 0u; t0 < p.t; t0 += TILE) {
    let t = t0 + lid;
    if (t < p.t) {
      let dots = row_dots((bi * p.t + t) * p.d, (bi * p.t + t) * p.e);
      let l = lse[bi * p.t + t];
      let dl = delta[bi * p.t + t];
      for (var r = 0u; r < RQ; r++) {
        let pr = exp(dots.x[r] * p.scale - l);
        pp[r * TILE + lid] = pr;
        dd[r * TILE + lid] = pr * (dots.y[r] - dl);
      }
    } else {
      for (var r = 0u; r < RQ; r++) {
        pp[r * TILE + lid] = 0.0;
        dd[r * TILE + lid] = 0.0;
      }
    }
    workgroupBarrier();
    let n = min(TILE, p.t - t0);
    for (var i = 0u; i < n; i++) {
      let qb = (bi * p.t + t0 + i) * p.d;
      for (var jc = 0u; jc < NCD; jc++) {
        let c = lid + 64u * jc;
        if (c < p.d) {
          let qv = ld_q(qb + c);
          for (var r = 0u; r < RQ; r++) { ak[r * NCD + jc] += dd[r * TILE + i] * qv; }
        }
      }
      let ob = (bi * p.t + t0 + i) * p.e;
      for (var jc = 0u; jc < NCE; jc++) {
        let c = lid + 64u * jc;
        if (c < p.e) {
          let g = ld_g(ob + c);
          for (var r = 0u; r < RQ; r++) { av[r * NCE + jc] += pp[r * TILE + i] * g; }
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < RQ; r++) {
    let s = s0 + r;
    if (s < p.s) {
      for (var jc = 0u; jc < NCD; jc++) {
        let c = lid + 64u * jc;
        if (c < p.d) { dk[(bi * p.s + s) * p.d + c] = ak[r * NCD + jc] * p.scale; }
      }
      for (var jc = 0u; jc < NCE; jc++) {
        let c = lid + 64u * jc;
        if (c < p.e) { dv[(bi * p.s + s) * p.e + c] = av[r * NCE + jc]; }
      }
    }
  }
}
#endif
