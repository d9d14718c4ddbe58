// Naive f32 matmul C = op(A)·op(B): one invocation per output element, scalar loads. The baseline the blocked
// variants are measured against. Same parameter block and layouts as shaders/matmul.wgsl.
struct Params {
  M: u32, N: u32, K: u32,
  a_off: u32, b_off: u32, c_off: u32,
  a_bs: u32, b_bs: u32, c_bs: u32,
  a_max: u32, b_max: u32,
  lda: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n = gid.x;
  let m = gid.y;
  if (m >= p.M || n >= p.N) { return; }
  let a0 = p.a_off + wid.z * p.a_bs;
  let b0 = p.b_off + wid.z * p.b_bs;
#if ${TRANS_A}
  let sam = 1u;
  let sak = p.lda;
#else
  let sam = p.lda;
  let sak = 1u;
#endif
#if ${TRANS_B}
  let sbk = 1u;
  let sbn = p.K;
#else
  let sbk = p.N;
  let sbn = 1u;
#endif
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    acc = fma(A[min(a0 + m * sam + k * sak, p.a_max)], B[min(b0 + k * sbk + n * sbn, p.b_max)], acc);
  }
  C[p.c_off + wid.z * p.c_bs + m * p.N + n] = acc;
}
