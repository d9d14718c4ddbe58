// Workgroup-tiled f32 matmul C = op(A)·op(B) for real GPUs. A 16×16 workgroup computes a BM×BN block of C
// (BM = 16·TM, BN = 16·TN); each invocation holds a TM×TN register tile. K advances BK at a time through two
// workgroup-memory buffers (double buffering: tile t+1 is fetched into registers while tile t is multiplied, so
// one barrier per K step suffices). Tiles are stored k-major as vec4 along m and n; an invocation's rows and
// columns are interleaved at a stride of 16 vec4s so neighbouring invocations read neighbouring vec4s.
// The parameter block and the A/B/C bindings (scalar f32 arrays here) come from shaders/lib/matmul_common.wgsl,
// prepended by kernels/matmul.ts; ragged edges load zeros and skip stores.

const TM4 = ${TM4}u;
const TN4 = ${TN4}u;
const BK = ${BK}u;
const BM4 = 16u * TM4;
const BN4 = 16u * TN4;
const NT = 256u;
// vec4 slots per tile and per invocation
const SA = BK * BM4;
const SB = BK * BN4;
const LA = (SA + NT - 1u) / NT;
const LB = (SB + NT - 1u) / NT;

var<workgroup> As: array<vec4f, 2u * SA>;
var<workgroup> Bs: array<vec4f, 2u * SB>;

// Loads outside the matrix read a clamped in-binding element and are replaced by 0 (a select, not a branch:
// no divergent control flow, which CPU drivers pay for per lane).
fn ldA(m: u32, k: u32, a0: u32) -> f32 {
#if ${TRANS_A}
  let v = A[min(a0 + k * p.lda + m, p.a_max)];
#else
  let v = A[min(a0 + m * p.lda + k, p.a_max)];
#endif
  return select(0.0, v, (m < p.M) & (k < p.K));
}

fn ldB(k: u32, n: u32, b0: u32) -> f32 {
#if ${TRANS_B}
  let v = B[min(b0 + n * p.K + k, p.b_max)];
#else
  let v = B[min(b0 + k * p.N + n, p.b_max)];
#endif
  return select(0.0, v, (n < p.N) & (k < p.K));
}

// The (k, m-quad) of A-tile slot e, laid out so consecutive invocations read consecutive global addresses.
fn slotA(e: u32) -> vec2u {
#if ${TRANS_A}
  return vec2u(e / BM4, e % BM4);
#else
  return vec2u(e % BK, e / BK);
#endif
}

fn slotB(e: u32) -> vec2u {
#if ${TRANS_B}
  return vec2u(e % BK, e / BK);
#else
  return vec2u(e / BN4, e % BN4);
#endif
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let m0 = wid.y * BM4 * 4u;
  let n0 = wid.x * BN4 * 4u;
  let a0 = p.a_off + wid.z * p.a_bs;
  let b0 = p.b_off + wid.z * p.b_bs;
  let c0 = p.c_off + wid.z * p.c_bs;
  let T = (p.K + BK - 1u) / BK;

  var ra: array<vec4f, LA>;
  var rb: array<vec4f, LB>;
  var acc: array<vec4f, TM4 * 4u * TN4>;

  // Fetch K tile 0 and stage it in buffer 0.
  for (var s = 0u; s < LA; s++) {
    let e = tid + s * NT;
    if (e < SA) {
      let km = slotA(e);
      let m = m0 + 4u * km.y;
      ra[s] = vec4f(ldA(m, km.x, a0), ldA(m + 1u, km.x, a0), ldA(m + 2u, km.x, a0), ldA(m + 3u, km.x, a0));
      As[km.x * BM4 + km.y] = ra[s];
    }
  }
  for (var s = 0u; s < LB; s++) {
    let e = tid + s * NT;
    if (e < SB) {
      let kn = slotB(e);
      let n = n0 + 4u * kn.y;
      rb[s] = vec4f(ldB(kn.x, n, b0), ldB(kn.x, n + 1u, b0), ldB(kn.x, n + 2u, b0), ldB(kn.x, n + 3u, b0));
      Bs[kn.x * BN4 + kn.y] = rb[s];
    }
  }
  workgroupBarrier();

  for (var t = 0u; t < T; t++) {
    let cur = t % 2u;
    let nxt = 1u - cur;
    let more = t + 1u < T;
    if (more) {
      let k0 = (t + 1u) * BK;
      for (var s = 0u; s < LA; s++) {
        let e = tid + s * NT;
        if (e < SA) {
          let km = slotA(e);
          let m = m0 + 4u * km.y;
          let k = k0 + km.x;
          ra[s] = vec4f(ldA(m, k, a0), ldA(m + 1u, k, a0), ldA(m + 2u, k, a0), ldA(m + 3u, k, a0));
        }
      }
      for (var s = 0u; s < LB; s++) {
        let e = tid + s * NT;
        if (e < SB) {
          let kn = slotB(e);
          let n = n0 + 4u * kn.y;
          let k = k0 + kn.x;
          rb[s] = vec4f(ldB(k, n, b0), ldB(k, n + 1u, b0), ldB(k, n + 2u, b0), ldB(k, n + 3u, b0));
        }
      }
    }
    let baseA = cur * SA;
    let baseB = cur * SB;
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<vec4f, TM4>;
      var b: array<vec4f, TN4>;
      for (var i4 = 0u; i4 < TM4; i4++) { a[i4] = As[baseA + kk * BM4 + i4 * 16u + lid.y]; }
      for (var j4 = 0u; j4 < TN4; j4++) { b[j4] = Bs[baseB + kk * BN4 + j4 * 16u + lid.x]; }
      for (var i4 = 0u; i4 < TM4; i4++) {
        for (var c = 0u; c < 4u; c++) {
          let av = vec4f(a[i4][c]);
          for (var j4 = 0u; j4 < TN4; j4++) {
            let idx = (i4 * 4u + c) * TN4 + j4;
            acc[idx] = fma(av, b[j4], acc[idx]);
          }
        }
      }
    }
    if (more) {
      for (var s = 0u; s < LA; s++) {
        let e = tid + s * NT;
        if (e < SA) {
          let km = slotA(e);
          As[nxt * SA + km.x * BM4 + km.y] = ra[s];
        }
      }
      for (var s = 0u; s < LB; s++) {
        let e = tid + s * NT;
        if (e < SB) {
          let kn = slotB(e);
          Bs[nxt * SB + kn.x * BN4 + kn.y] = rb[s];
        }
      }
    }
    workgroupBarrier();
  }

  for (var i4 = 0u; i4 < TM4; i4++) {
    for (var c = 0u; c < 4u; c++) {
      let m = m0 + (i4 * 16u + lid.y) * 4u + c;
      if (m < p.M) {
        for (var j4 = 0u; j4 < TN4; j4++) {
          let n = n0 + (j4 * 16u + lid.x) * 4u;
          let v = acc[(i4 * 4u + c) * TN4 + j4];
          let base = c0 + m * p.N + n;
          if (n < p.N) { C[base] = v.x; }
          if (n + 1u < p.N) { C[base + 1u] = v.y; }
          if (n + 2u < p.N) { C[base + 2u] = v.z; }
          if (n + 3u < p.N) { C[base + 3u] = v.w; }
        }
      }
    }
  }
}
