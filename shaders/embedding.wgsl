// Embedding lookup out[n, :] = W[idx[n], :] (a negative index gives a zero row: the flow model's "no class"), and
// its gradient dW[r, c] = Σ_{n : idx[n] = r} dy[n, c], accumulated per weight element without atomics: each
// invocation owns one (r, c) and scans the indices (there are few: one per sample).
struct Params { n: u32, rows: u32, dim: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
#if ${GRAD}
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
#else
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${GRAD}
  if (i >= p.rows * p.dim) { return; }
  let r = i32(i / p.dim);
  let c = i % p.dim;
  var s = 0.0;
  for (var n = 0u; n < p.n; n++) {
    if (idx[n] == r) { s += dy[n * p.dim + c]; }
  }
  dw[i] = s;
#else
  if (i >= p.n * p.dim) { return; }
  let r = idx[i / p.dim];
  var v = 0.0;
  if (r >= 0 && u32(r) < p.rows) { v = w[u32(r) * p.dim + i % p.dim]; }
  out[i] = v;
#endif
}
