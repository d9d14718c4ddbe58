// Register-blocked f32 matmul C = op(A)·op(B) with no workgroup memory (the fast variant on CPU drivers, where
// barriers are expensive). Each invocation computes a TM×(4·TN4) block of C, walking K four at a time and loading
// four consecutive elements along each operand's contiguous dimension per load (vec4 arrays when that dimension
// and every offset are multiples of 4, else four scalar loads).
//   A: [M, K] row-major, or [K, M] when TRANS_A.   B: [K, N], or [N, K] when TRANS_B.   C: [M, N].
// Batches run along z; a batch stride of 0 broadcasts one operand. Offsets are element offsets into the bindings
// (bindings start at aligned byte offsets; the remainder is passed here). lda: A's row stride (K, or A's full M
// when transposed, so a chunk of M rows can run on its own). Loads at ragged M/N edges may fall past a row or
// past the binding (WebGPU keeps such reads inside the binding); they only feed outputs that are not stored.
// a_max/b_max are kept in the block for the other matmul kernels, which share it.
struct Params {
  M: u32, N: u32, K: u32,
  a_off: u32, b_off: u32, c_off: u32,
  a_bs: u32, b_bs: u32, c_bs: u32,
  a_max: u32, b_max: u32,
  lda: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${VEC_A}
@group(0) @binding(1) var<storage, read> A: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read> A: array<f32>;
#endif
#if ${VEC_B}
@group(0) @binding(2) var<storage, read> B: array<vec4f>;
#else
@group(0) @binding(2) var<storage, read> B: array<f32>;
#endif
#if ${VEC_C}
@group(0) @binding(3) var<storage, read_write> C: array<vec4f>;
#else
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
#endif

const TM = ${TM}u;
const TN4 = ${TN4}u;
const TN = TN4 * 4u;

// Four consecutive elements of A starting at element index i (a multiple of 4 on the vec4 path).
fn ldA(i: u32) -> vec4f {
#if ${VEC_A}
  return A[i >> 2u];
#else
  return vec4f(A[i], A[i + 1u], A[i + 2u], A[i + 3u]);
#endif
}

fn ldB(i: u32) -> vec4f {
#if ${VEC_B}
  return B[i >> 2u];
#else
  return vec4f(B[i], B[i + 1u], B[i + 2u], B[i + 3u]);
#endif
}

fn ldA1(i: u32) -> f32 {
#if ${VEC_A}
  return A[i >> 2u][i & 3u];
#else
  return A[i];
#endif
}

fn ldB1(i: u32) -> f32 {
#if ${VEC_B}
  return B[i >> 2u][i & 3u];
#else
  return B[i];
#endif
}

@compute @workgroup_size(${WG_X}, ${WG_Y}, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
#if ${ROW_UNIFORM}
  let row0 = wid.y * TM;
#else
  let row0 = gid.y * TM;
#endif
  let col0 = gid.x * TN;
  if (row0 >= p.M || col0 >= p.N) { return; }
  let N = p.N;
  let K = p.K;
  let lda = p.lda;
  let a0 = p.a_off + gid.z * p.a_bs;
  let b0 = p.b_off + gid.z * p.b_bs;
  let c0 = p.c_off + gid.z * p.c_bs;
  var acc: array<vec4f, TM * TN4>;

  // Four k at a time: av[i] = A[row0+i, k..k+3]; bv[kk·TN4 + j] = B[k+kk, col0+4j .. col0+4j+3].
  let K4 = K & ~3u;
  for (var k = 0u; k < K4; k += 4u) {
    var av: array<vec4f, TM>;
    var bv: array<vec4f, 4u * TN4>;
#if ${TRANS_A}
    for (var kk = 0u; kk < 4u; kk++) {
      for (var ig = 0u; ig < TM / 4u; ig++) {
        let v = ldA(a0 + (k + kk) * lda + row0 + 4u * ig);
        av[4u * ig + 0u][kk] = v.x;
        av[4u * ig + 1u][kk] = v.y;
        av[4u * ig + 2u][kk] = v.z;
        av[4u * ig + 3u][kk] = v.w;
      }
    }
#else
    for (var i = 0u; i < TM; i++) { av[i] = ldA(a0 + (row0 + i) * lda + k); }
#endif
#if ${TRANS_B}
    for (var jn = 0u; jn < TN; jn++) {
      let v = ldB(b0 + (col0 + jn) * K + k);
      bv[0u * TN4 + jn / 4u][jn % 4u] = v.x;
      bv[1u * TN4 + jn / 4u][jn % 4u] = v.y;
      bv[2u * TN4 + jn / 4u][jn % 4u] = v.z;
      bv[3u * TN4 + jn / 4u][jn % 4u] = v.w;
    }
#else
    for (var kk = 0u; kk < 4u; kk++) {
      for (var j = 0u; j < TN4; j++) { bv[kk * TN4 + j] = ldB(b0 + (k + kk) * N + col0 + 4u * j); }
    }
#endif
    for (var i = 0u; i < TM; i++) {
      let a = av[i];
      for (var j = 0u; j < TN4; j++) {
        var c = acc[i * TN4 + j];
        c = fma(vec4f(a.x), bv[0u * TN4 + j], c);
        c = fma(vec4f(a.y), bv[1u * TN4 + j], c);
        c = fma(vec4f(a.z), bv[2u * TN4 + j], c);
        c = fma(vec4f(a.w), bv[3u * TN4 + j], c);
        acc[i * TN4 + j] = c;
      }
    }
  }
  // The last K mod 4 values, one at a time (nothing past K is read into a valid output).
  for (var k = K4; k < K; k++) {
    var bv: array<vec4f, TN4>;
#if ${TRANS_B}
    for (var j = 0u; j < TN4; j++) {
      let n = b0 + (col0 + 4u * j) * K + k;
      bv[j] = vec4f(ldB1(n), ldB1(n + K), ldB1(n + 2u * K), ldB1(n + 3u * K));
    }
#else
    for (var j = 0u; j < TN4; j++) { bv[j] = ldB(b0 + k * N + col0 + 4u * j); }
#endif
    for (var i = 0u; i < TM; i++) {
#if ${TRANS_A}
      let a = vec4f(ldA1(a0 + k * lda + row0 + i));
#else
      let a = vec4f(ldA1(a0 + (row0 + i) * lda + k));
#endif
      for (var j = 0u; j < TN4; j++) { acc[i * TN4 + j] = fma(a, bv[j], acc[i * TN4 + j]); }
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
