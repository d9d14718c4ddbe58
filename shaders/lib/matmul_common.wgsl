// The prologue kernels/matmul.ts prepends to every matmul kernel (matmul.wgsl, matmul_sgb.wgsl, matmul_tiled.wgsl,
// matmul_naive.wgsl): the subgroups directive where needed, the uniform block, the A/B/C bindings (vec4 arrays when
// the contiguous dimension and every offset are multiples of 4; the tiled and naive kernels always take scalar f32
// arrays) and the element loaders of the register-blocked kernels.
#if ${SUBGROUPS}
enable subgroups;
#endif

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

// Four consecutive elements of A (or B) starting at element index i (a multiple of 4 on the vec4 path), and one.
fn ldA4(i: u32) -> vec4f {
#if ${VEC_A}
  return A[i >> 2u];
#else
  return vec4f(A[i], A[i + 1u], A[i + 2u], A[i + 3u]);
#endif
}

fn ldA1(i: u32) -> f32 {
#if ${VEC_A}
  return A[i >> 2u][i & 3u];
#else
  return A[i];
#endif
}

fn ldB4(i: u32) -> vec4f {
#if ${VEC_B}
  return B[i >> 2u];
#else
  return vec4f(B[i], B[i + 1u], B[i + 2u], B[i + 3u]);
#endif
}

fn ldB1(i: u32) -> f32 {
#if ${VEC_B}
  return B[i >> 2u][i & 3u];
#else
  return B[i];
#endif
}
