// Naive f32 matmul C = op(A)·op(B): one invocation per output element, scalar loads. The baseline the blocked
// variants are measured against. The parameter block and the A/B/C bindings (scalar f32 arrays here) come from
// shaders/lib/matmul_common.wgsl, prepended by kernels/matmul.ts.

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
