// 1D convolution along one axis of a [..., L, inner] tensor with a kernel of `taps` weights centred on tap `tail`:
// out[.., i, ..] = sum_t w[t] in[.., i + t - tail, ..]. Outside the volume the input is zero (PAD_REFLECT false:
// MONAI's zero padding) or mirrored with the edge sample repeated (PAD_REFLECT: scipy.ndimage "reflect",
// d c b a | a b c d | d c b a).
// Weights come from a storage buffer. The WEIGHTS variant fills that buffer on the GPU with MONAI's erf-sampled
// Gaussian w(x) = (erf((x + 1/2) s) - erf((x - 1/2) s)) / 2, s = 1 / (sigma sqrt 2), x = t - tail, clamped at 0 and
// not renormalised (erf from Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7), so that no weights need
// uploading and a whole chain records without a flush.
struct Params {
  n: u32,
  len: u32,
  inner: u32,
  taps: u32,
  tail: u32,
  sigma: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${WEIGHTS}
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;

fn erf_approx(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-a * a));
}
#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${WEIGHTS}
  if (i >= p.taps) { return; }
  let s = 0.70710678118654752 / p.sigma;
  let x = f32(i) - f32(p.tail);
  weights[i] = max(0.0, 0.5 * (erf_approx((x + 0.5) * s) - erf_approx((x - 0.5) * s)));
#else
  if (i >= p.n) { return; }
  let pos = i32((i / p.inner) % p.len);
  let base = i32(i) - pos * i32(p.inner);
  let len = i32(p.len);
  var acc = 0.0;
#if ${PAD_REFLECT}
  for (var t = 0u; t < p.taps; t++) {
    var q = pos + i32(t) - i32(p.tail);
    let period = 2 * len;
    q = ((q % period) + period) % period;
    if (q >= len) { q = period - 1 - q; }
    acc += weights[t] * src[base + q * i32(p.inner)];
  }
#else
  // Only the taps that land inside the volume (zero padding contributes nothing).
  let tail = i32(p.tail);
  let t0 = max(0, tail - pos);
  let t1 = min(i32(p.taps), tail + len - pos);
  for (var t = t0; t < t1; t++) {
    acc += weights[t] * src[base + (pos + t - tail) * i32(p.inner)];
  }
#endif
  dst[i] = acc;
#endif
}
