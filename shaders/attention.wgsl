// Memory-aware attention O = softmax(scale·Q·Kᵀ)·V, batched (heads folded into the batch), never forming the T×S
// score matrix. Q [B, T, D], K [B, S, D], V [B, S, E], O [B, T, E], LSE [B, T] (log-sum-exp of each score row); D and E
// are uniforms (constant trip counts make CPU drivers unroll for minutes), workgroup arrays are sized for 64·NC.
//   FWD    RQ query rows per workgroup; key tiles of KT = 64 (one key per invocation); online softmax with a running
//          max and sum per row; O accumulated in registers (channels c = lid + 64·j)
//   DELTA  delta[t] = Σ_e dO[t, e]·O[t, e]
//   DQ     RQ query rows per workgroup, key tiles recomputed: P = exp(scale·q·k − lse), dS = P·(dO·v − delta),
//          dQ = scale·Σ dS·k
//   DKV    RK keys per workgroup, query tiles of 64 recomputed: dV = Σ P·dO, dK = scale·Σ dS·q
struct Params { t: u32, s: u32, d: u32, e: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
const TILE = 64u;
const NEG = -3.0e38;

#if ${FWD}
const RQ = ${RQ}u;
const NC = ${NCE}u;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
var<workgroup> qs: array<f32, ${RQD}>;
var<workgroup> ps: array<f32, ${RQT}>;
var<workgroup> rowm: array<f32, ${RQ}>;
var<workgroup> rowl: array<f32, ${RQ}>;
var<workgroup> rowc: array<f32, ${RQ}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = wid.y;
  let t0 = wid.x * RQ;
  for (var i = lid; i < RQ * p.d; i += 64u) {
    let t = t0 + i / p.d;
    qs[i] = select(0.0, q[(bi * p.t + min(t, p.t - 1u)) * p.d + i % p.d], t < p.t);
  }
  if (lid < RQ) {
    rowm[lid] = NEG;
    rowl[lid] = 0.0;
  }
  var acc: array<f32, ${RQNCE}>;
  for (var i = 0u; i < RQ * NC; i++) { acc[i] = 0.0; }
  workgroupBarrier();
  for (var s0 = 0u; s0 < p.s; s0 += TILE) {
    let sj = s0 + lid;
    var sc: array<f32, ${RQ}>;
    for (var r = 0u; r < RQ; r++) { sc[r] = 0.0; }
    if (sj < p.s) {
      let kb = (bi * p.s + sj) * p.d;
      for (var c = 0u; c < p.d; c++) {
        let kv = k[kb + c];
        for (var r = 0u; r < RQ; r++) { sc[r] += qs[r * p.d + c] * kv; }
      }
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
          let vv = v[vb + c];
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
#elif ${DELTA}
@group(0) @binding(1) var<storage, read> o: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // p.t here is the total number of rows B·T
  let row = gid.y * nwg.x * 64u + gid.x;
  if (row >= p.t) { return; }
  var s = 0.0;
  for (var e = 0u; e < p.e; e++) { s += o[row * p.e + e] * dout[row * p.e + e]; }
  delta[row] = s;
}
#elif ${DQ}
const RQ = ${RQ}u;
const NC = ${NCD}u;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
var<workgroup> qs: array<f32, ${RQD}>;
var<workgroup> dos: array<f32, ${RQE}>;
var<workgroup> ps: array<f32, ${RQT}>;
var<workgroup> rl: array<f32, ${RQ}>;
var<workgroup> rd: array<f32, ${RQ}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = wid.y;
  let t0 = wid.x * RQ;
  for (var i = lid; i < RQ * p.d; i += 64u) {
    let t = t0 + i / p.d;
    qs[i] = select(0.0, q[(bi * p.t + min(t, p.t - 1u)) * p.d + i % p.d], t < p.t);
  }
  for (var i = lid; i < RQ * p.e; i += 64u) {
    let t = t0 + i / p.e;
    dos[i] = select(0.0, dout[(bi * p.t + min(t, p.t - 1u)) * p.e + i % p.e], t < p.t);
  }
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
      var sc: array<f32, ${RQ}>;
      var dp: array<f32, ${RQ}>;
      for (var r = 0u; r < RQ; r++) { sc[r] = 0.0; dp[r] = 0.0; }
      let kb = (bi * p.s + sj) * p.d;
      for (var c = 0u; c < p.d; c++) {
        let kv = k[kb + c];
        for (var r = 0u; r < RQ; r++) { sc[r] += qs[r * p.d + c] * kv; }
      }
      let vb = (bi * p.s + sj) * p.e;
      for (var c = 0u; c < p.e; c++) {
        let vv = v[vb + c];
        for (var r = 0u; r < RQ; r++) { dp[r] += dos[r * p.e + c] * vv; }
      }
      for (var r = 0u; r < RQ; r++) {
        let pr = exp(sc[r] * p.scale - rl[r]);
        ps[r * TILE + lid] = pr * (dp[r] - rd[r]);
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
          let kv = k[kb + c];
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
#else
const RK = ${RQ}u;
const NCD = ${NCD}u;
const NCE = ${NCE}u;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
var<workgroup> ks: array<f32, ${RQD}>;
var<workgroup> vs: array<f32, ${RQE}>;
var<workgroup> pp: array<f32, ${RQT}>;
var<workgroup> dd: array<f32, ${RQT}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = wid.y;
  let s0 = wid.x * RK;
  for (var i = lid; i < RK * p.d; i += 64u) {
    let s = s0 + i / p.d;
    ks[i] = select(0.0, k[(bi * p.s + min(s, p.s - 1u)) * p.d + i % p.d], s < p.s);
  }
  for (var i = lid; i < RK * p.e; i += 64u) {
    let s = s0 + i / p.e;
    vs[i] = select(0.0, v[(bi * p.s + min(s, p.s - 1u)) * p.e + i % p.e], s < p.s);
  }
  var ak: array<f32, ${RQNCD}>;
  var av: array<f32, ${RQNCE}>;
  for (var i = 0u; i < RK * NCD; i++) { ak[i] = 0.0; }
  for (var i = 0u; i < RK * NCE; i++) { av[i] = 0.0; }
  workgroupBarrier();
  for (var t0 = 0u; t0 < p.t; t0 += TILE) {
    let t = t0 + lid;
    if (t < p.t) {
      var sc: array<f32, ${RQ}>;
      var dp: array<f32, ${RQ}>;
      for (var r = 0u; r < RK; r++) { sc[r] = 0.0; dp[r] = 0.0; }
      let qb = (bi * p.t + t) * p.d;
      for (var c = 0u; c < p.d; c++) {
        let qv = q[qb + c];
        for (var r = 0u; r < RK; r++) { sc[r] += ks[r * p.d + c] * qv; }
      }
      let ob = (bi * p.t + t) * p.e;
      for (var c = 0u; c < p.e; c++) {
        let g = dout[ob + c];
        for (var r = 0u; r < RK; r++) { dp[r] += vs[r * p.e + c] * g; }
      }
      let l = lse[bi * p.t + t];
      let dl = delta[bi * p.t + t];
      for (var r = 0u; r < RK; r++) {
        let pr = exp(sc[r] * p.scale - l);
        pp[r * TILE + lid] = pr;
        dd[r * TILE + lid] = pr * (dp[r] - dl);
      }
    } else {
      for (var r = 0u; r < RK; r++) {
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
          let qv = q[qb + c];
          for (var r = 0u; r < RK; r++) { ak[r * NCD + jc] += dd[r * TILE + i] * qv; }
        }
      }
      let ob = (bi * p.t + t0 + i) * p.e;
      for (var jc = 0u; jc < NCE; jc++) {
        let c = lid + 64u * jc;
        if (c < p.e) {
          let g = dout[ob + c];
          for (var r = 0u; r < RK; r++) { av[r * NCE + jc] += pp[r * TILE + i] * g; }
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < RK; r++) {
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
