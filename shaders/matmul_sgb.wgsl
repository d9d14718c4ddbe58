// Register-blocked f32 matmul C = op(A)·op(B), no workgroup memory, with B shared across the subgroup by
// subgroupBroadcast (needs the subgroups feature and subgroups of at least LANES invocations). For CPU drivers,
// where every storage load is a per-lane scalar load (about ten instructions per element on Mesa 25.0's
// llvmpipe, uniform address or not) and the kernel is load-bound.
//
// Every invocation of a workgroup computes the same TN = 4·LANES columns of C for its own TM rows, so the
// B values of one k are the same for the whole workgroup: lane s (of the first LANES lanes of each subgroup)
// loads the four consecutive elements B[k, col0 + 4s .. col0 + 4s + 3] and subgroupBroadcast hands them to every
// lane. Loads per lane and k: TM (A) + 4 (B), for TM·TN multiply-adds, against TM + TN without the broadcast.
// This holds for any subgroup layout (only lanes 0 .. LANES − 1 of each subgroup are read, and every lane of the
// workgroup wants the same values).
//   A: [M, K] row-major, or [K, M] when TRANS_A.   B: [K, N], or [N, K] when TRANS_B.   C: [M, N].
// Batches run along z; a batch stride of 0 broadcasts one operand. Offsets, lda, the uniform block, bindings and
// loaders come from shaders/lib/matmul_common.wgsl. Loads at ragged M/N edges may fall past a row or past the binding (WebGPU keeps such
// reads inside the binding); they only feed outputs that are not stored.

const TM = ${TM}u;
const LANES = ${LANES}u;
const TN = LANES * 4u;
const WG = ${WG}u;

// A[row0 + i, k] for i < TM.
fn load_a(a0: u32, row0: u32, k: u32) -> array<f32, TM> {
  var a: array<f32, TM>;
#if ${TRANS_A}
  for (var ig = 0u; ig < TM / 4u; ig++) {
    let v = ldA4(a0 + k * p.lda + row0 + 4u * ig);
    a[4u * ig] = v.x;
    a[4u * ig + 1u] = v.y;
    a[4u * ig + 2u] = v.z;
    a[4u * ig + 3u] = v.w;
  }
#else
  for (var i = 0u; i < TM; i++) { a[i] = ldA1(a0 + (row0 + i) * p.lda + k); }
#endif
  return a;
}

// The LANES vec4s of row k of B from the first LANES lanes (the lane index of subgroupBroadcast must be a constant).
fn bcast(bl: vec4f) -> array<vec4f, LANES> {
  var bb: array<vec4f, LANES>;
  bb[0] = subgroupBroadcast(bl, 0u);
  bb[1] = subgroupBroadcast(bl, 1u);
  bb[2] = subgroupBroadcast(bl, 2u);
  bb[3] = subgroupBroadcast(bl, 3u);
#if ${LANES8}
  bb[4] = subgroupBroadcast(bl, 4u);
  bb[5] = subgroupBroadcast(bl, 5u);
  bb[6] = subgroupBroadcast(bl, 6u);
  bb[7] = subgroupBroadcast(bl, 7u);
#endif
  return bb;
}

// This lane's share of row k of B: B[k, col0 + 4s .. col0 + 4s + 3].
fn load_b(b0: u32, col: u32, k: u32) -> vec4f {
#if ${TRANS_B}
  let n = b0 + col * p.K + k;
  return vec4f(ldB1(n), ldB1(n + p.K), ldB1(n + 2u * p.K), ldB1(n + 3u * p.K));
#else
  return ldB4(b0 + k * p.N + col);
#endif
}

@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sgid: u32) {
  // No early exit for invocations past M (see matmul.wgsl): they compute on clamped reads and skip their stores.
  let row0 = (wid.y * WG + lid) * TM;
  let col0 = wid.x * TN;
  let K = p.K;
  let a0 = p.a_off + wid.z * p.a_bs;
  let b0 = p.b_off + wid.z * p.b_bs;
  let c0 = p.c_off + wid.z * p.c_bs;
  let mycol = col0 + 4u * (sgid % LANES);
  var acc: array<vec4f, TM * LANES>;

  // One k per step: acc[i, j] += A[row0 + i, k] · B[k, col0 + 4j .. col0 + 4j + 3].
  for (var k = 0u; k < K; k++) {
    let a = load_a(a0, row0, k);
    let bb = bcast(load_b(b0, mycol, k));
    for (var j = 0u; j < LANES; j++) {
      for (var i = 0u; i < TM; i++) { acc[i * LANES + j] = fma(vec4f(a[i]), bb[j], acc[i * LANES + j]); }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let row = row0 + i;
    if (row >= p.M) { break; }
    for (var j = 0u; j < LANES; j++) {
      let col = col0 + 4u * j;
      let v = acc[i * LANES + j];
#if ${VEC_C}
      if (col < p.N) { C[(c0 + row * p.N + col) >> 2u] = v; }
#else
      let base = c0 + row * p.N + col;
      if (col < p.N) { C[base] = v.x; }
      if (col + 1u < p.N) { C[base + 1u] = v.y; }
      if (col + 2u < p.N) { C[base + 2u] = v.z; }
      if (col + 3u < p.N) { C[base + 3u] = v.w; }
#endif
    }
  }
}
