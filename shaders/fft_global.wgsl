// One Stockham autosort stage of radix R of a batched FFT along one axis, from global memory to global memory (for
// lines too long for workgroup memory, for CPU adapters, and for mixed-radix lengths). One thread per butterfly:
// thread (line, j) reads x[j + t N/R], applies the twiddles w^(k t) with k = j mod ns, w = exp(sign 2 pi i / (ns R)),
// takes an R-point DFT and writes y[(j / ns) ns R + k + t ns], scaled by p.scale (1 except on the last stage of an
// inverse). The stages may come in any order of radices whose product is N (Stockham autosort needs no reordering).
// Variants: RADIX4 (R = 4, butterflies written out), R = 2, or GENERIC (any small R: 3, 5, 7; the R-point DFT by
// its definition, R^2 complex multiply-adds, roots of unity from the same table).
struct Params {
  lines: u32,
  inner: u32,   // element stride of the axis
  n: u32,       // line length N
  ns: u32,      // sub-transform length before this stage
  sign: f32,
  scale: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2f>;
@group(0) @binding(3) var<storage, read> tw: array<vec2f>;

fn cmul(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn twiddle(m: u32, M: u32) -> vec2f {
  let c = tw[m * (p.n / M)];
  return vec2f(c.x, p.sign * c.y);
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  let per = p.n / ${R}u;
  if (q >= p.lines * per) { return; }
  var line = q / per;
  var j = q % per;
  if (p.inner != 1u) {
    // Neighbouring threads take neighbouring lines, whose elements are adjacent in memory.
    line = q % p.lines;
    j = q / p.lines;
  }
  let base = (line / p.inner) * p.n * p.inner + line % p.inner;
  let st = p.inner;
  let ns = p.ns;
  let k = j % ns;
  let o = base + ((j / ns) * ns * ${R}u + k) * st;
#if ${GENERIC}
  var v: array<vec2f, ${R}>;
  v[0] = src[base + j * st];
  for (var t = 1u; t < ${R}u; t++) {
    v[t] = cmul(src[base + (j + t * per) * st], twiddle(k * t, ${R}u * ns));
  }
  for (var q = 0u; q < ${R}u; q++) {
    var acc = v[0];
    for (var t = 1u; t < ${R}u; t++) {
      acc += cmul(v[t], twiddle((t * q) % ${R}u, ${R}u));
    }
    dst[o + q * ns * st] = acc * p.scale;
  }
#elif ${RADIX4}
  let a0 = src[base + j * st];
  let a1 = cmul(src[base + (j + per) * st], twiddle(k, 4u * ns));
  let a2 = cmul(src[base + (j + 2u * per) * st], twiddle(2u * k, 4u * ns));
  let a3 = cmul(src[base + (j + 3u * per) * st], twiddle(3u * k, 4u * ns));
  let s02 = a0 + a2;
  let d02 = a0 - a2;
  let s13 = a1 + a3;
  let d13 = a1 - a3;
  let wd = p.sign * vec2f(-d13.y, d13.x);
  dst[o] = (s02 + s13) * p.scale;
  dst[o + ns * st] = (d02 + wd) * p.scale;
  dst[o + 2u * ns * st] = (s02 - s13) * p.scale;
  dst[o + 3u * ns * st] = (d02 - wd) * p.scale;
#else
  let a0 = src[base + j * st];
  let a1 = cmul(src[base + (j + per) * st], twiddle(k, 2u * ns));
  dst[o] = (a0 + a1) * p.scale;
  dst[o + ns * st] = (a0 - a1) * p.scale;
#endif
}
