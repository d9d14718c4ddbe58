// 1D convolution along one axis of a [..., L, inner] tensor with a symmetric-indexed kernel of `taps` weights
// centred on tap `tail`: out[.., i, ..] = sum_t w[t] in[.., i + t - tail, ..]. Outside the volume the input is
// zero (PAD_REFLECT false: MONAI's zero padding) or mirrored with the edge sample repeated
// (PAD_REFLECT: scipy.ndimage "reflect", d c b a | a b c d | d c b a).
struct Params {
  n: u32,
  len: u32,
  inner: u32,
  taps: u32,
  tail: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
  let pos = i32((i / p.inner) % p.len);
  let base = i32(i) - pos * i32(p.inner);
  let len = i32(p.len);
  var acc = 0.0;
  for (var t = 0u; t < p.taps; t++) {
    var q = pos + i32(t) - i32(p.tail);
#if ${PAD_REFLECT}
    let period = 2 * len;
    q = ((q % period) + period) % period;
    if (q >= len) { q = period - 1 - q; }
#else
    if (q < 0 || q >= len) { continue; }
#endif
    acc += weights[t] * src[base + q * i32(p.inner)];
  }
  dst[i] = acc;
}
