// Repack a conv weight for the register-blocked kernels: out[(r * k_vol + t) * cp + c] = W(c, r, t), zero for the
// padding channels c >= n_c. W's element (c, r, t) sits at c * stride_c + r * stride_r + t, which covers both
// PyTorch Conv3d layouts read either way: (out, in, taps) as r = in, c = out (forward) or r = out, c = in
// (input gradient).
struct Params { n_r: u32, n_c: u32, cp: u32, k_vol: u32, stride_c: u32, stride_r: u32, total: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.total) { return; }
  let c = i % p.cp;
  let rt = i / p.cp;
  let t = rt % p.k_vol;
  let r = rt / p.k_vol;
  let cc = min(c, p.n_c - 1u);
  let v = src[cc * p.stride_c + r * p.stride_r + t];
  dst[i] = select(0.0, v, c < p.n_c);
}
