// Bluestein (chirp-z) steps for FFTs of any length N along one axis, through a power-of-two convolution of length
// M >= 2N - 1. With c_n = exp(sign i pi n^2 / N):  X_k = c_k * sum_n (x_n c_n) conj(c)_(k-n), a circular convolution
// of a = x c (zero-padded to M) with b = conj(c) (wrapped), computed as IFFT(FFT(a) FFT(b)); FFT(b) is precomputed.
//   pre:  work[line, m] = m < N ? x[line, m] c_m : 0
//   mul:  work[line, m] *= B[m]
//   post: x[line, k] = work[line, k] c_k scale
struct Params {
  lines: u32,
  inner: u32,   // element stride of the axis in the volume
  n: u32,       // N
  m: u32,       // M
  scale: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${STEP_MUL}
@group(0) @binding(1) var<storage, read_write> work: array<vec2f>;
@group(0) @binding(2) var<storage, read> table: array<vec2f>;
#else
@group(0) @binding(1) var<storage, read_write> data: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> work: array<vec2f>;
@group(0) @binding(3) var<storage, read> table: array<vec2f>;
#endif

fn cmul(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

#if ${STEP_MUL}
#else
fn line_base(line: u32) -> u32 {
  return (line / p.inner) * p.n * p.inner + line % p.inner;
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${STEP_PRE}
  if (q >= p.lines * p.m) { return; }
  var line = q / p.m;
  var m = q % p.m;
  if (p.inner != 1u) {
    line = q % p.lines;
    m = q / p.lines;
  }
  var v = vec2f(0.0);
  if (m < p.n) {
    v = cmul(data[line_base(line) + m * p.inner], table[m]);
  }
  work[line * p.m + m] = v;
#elif ${STEP_MUL}
  if (q >= p.lines * p.m) { return; }
  work[q] = cmul(work[q], table[q % p.m]);
#else
  if (q >= p.lines * p.n) { return; }
  var line = q / p.n;
  var k = q % p.n;
  if (p.inner != 1u) {
    line = q % p.lines;
    k = q / p.lines;
  }
  data[line_base(line) + k * p.inner] = cmul(work[line * p.m + k], table[k]) * p.scale;
#endif
}
