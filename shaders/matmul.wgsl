// Register-blocked f32 matmul C = op(A)·op(B) with no workgroup memory (the fast variant on CPU drivers, where
// barriers are expensive). Each invocation computes a TM×(4·TN4) block of C as a sum over k of outer products,
// loading B (and a transposed A) four consecutive elements at a time along their contiguous dimension (vec4 arrays
// when that dimension and every offset are multiples of 4, else four scalar loads).
//   A: [M, K] row-major, or [K, M] when TRANS_A.   B: [K, N], or [N, K] when TRANS_B.   C: [M, N].
// Batches run along z; a batch stride of 0 broadcasts one operand. Offsets are element offsets into the bindings
// (bindings start at aligned byte offsets; the remainder is passed here). lda: A's row stride (K, or A's full M
// when transposed, so a chunk of M rows can run on its own). Loads at ragged M/N edges may fall past a row or
// past the binding (WebGPU keeps such reads inside the binding); they only feed outputs that are not stored.
// The uniform block, bindings and loaders are shaders/lib/matmul_common.wgsl (a_max/b_max serve the other kernels).
const TM = ${TM}u;
const TN4 = ${TN4}u;
const TN = TN4 * 4u;

@compute @workgroup_size(${WG_X}, ${WG_Y}, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  // No early exit for invocations past M or N: on a CPU driver a per-lane branch puts the whole K loop under an
  // execution mask (every accumulator update becomes load, blend, store). Their loads stay inside the bindings
  // (WebGPU clamps out-of-range reads) and only their stores are skipped.
  let N = p.N;
  let K = p.K;
  let lda = p.lda;
  // The batch comes from workgroup_id (uniform), not global_invocation_id.z: a CPU driver's divergence analysis
  // treats every component of the latter as per-lane.
  let a0 = p.a_off + wid.z * p.a_bs;
  let b0 = p.b_off + wid.z * p.b_bs;
  let c0 = p.c_off + wid.z * p.c_bs;
  var acc: array<vec4f, TM * TN4>;

  // One k per step: a[i] = A[row0+i, k] and b[j] = B[k, col0+4j .. col0+4j+3], then a TM×TN outer product.
  // (On CPU drivers every load costs the same per element whatever its width, so the tile's shape, not vec4
  // loads along K, sets the loads per FMA: (TM + TN) / (TM·TN).)
  for (var k = 0u; k < K; k++) {
    var a: array<f32, TM>;
    var b: array<vec4f, TN4>;
#if ${TRANS_A}
    for (var ig = 0u; ig < TM / 4u; ig++) {
      let v = ldA4(a0 + k * lda + row0 + 4u * ig);
      a[4u * ig] = v.x;
      a[4u * ig + 1u] = v.y;
      a[4u * ig + 2u] = v.z;
      a[4u * ig + 3u] = v.w;
    }
#else
    for (var i = 0u; i < TM; i++) { a[i] = ldA1(a0 + (row0 + i) * lda + k); }
#endif
#if ${TRANS_B}
    for (var j = 0u; j < TN4; j++) {
      let n = b0 + (col0 + 4u * j) * K + k;
      b[j] = vec4f(ldB1(n), ldB1(n + K), ldB1(n + 2u * K), ldB1(n + 3u * K));
    }
#else
    for (var j = 0u; j < TN4; j++) { b[j] = ldB4(b0 + k * N + col0 + 4u * j); }
#endif
    for (var i = 0u; i < TM; i++) {
      let av = vec4f(a[i]);
      for (var j = 0u; j < TN4; j++) { acc[i * TN4 + j] = fma(av, b[j], acc[i * TN4 + j]); }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let row = row0 + i;
    if (row >= p.M) { break; }
    for (var j = 0u; j < TN4; j++) {
      let col = col0 + 4u * j;
      let v = acc[i * TN4 + j];
#if ${VEC_C}
      if (col < N) { C[(c0 + row * N + col) >> 2u] = v; }
#else
      let base = c0 + row * N + col;
      if (col < N) { C[base] = v.x; }
      if (col + 1u < N) { C[base + 1u] = v.y; }
      if (col + 2u < N) { C[base + 2u] = v.z; }
      if (col + 3u < N) { C[base + 3u] = v.w; }
#endif
    }
  }
}
