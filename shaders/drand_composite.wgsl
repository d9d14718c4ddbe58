// Foreground/background compositing of domain randomisation (spec 4.5). Volumes are f32 [D, H, W]; labels are 0/1.
//   CHOOSE:  one thread: mu = mean of the background (1 - mean when inverted, flags bit 1) from stats[0].w; the
//            foreground intensity c uniform on {c in [0, 1]: |c - mu| > 0.4} by inverse transform of p.u (the law
//            of upstream's rejection loop); s = c - mu when flags bit 2 (add_sub or gauss_smooth), else c.
//            scal[0] = (c, s, |s|, mu).
//   FILL:    F = |s| where L = 1, else 0.
//   DROPOUT: each voxel with F > 0 is zeroed with p 0.5 (top bit of its Philox word).
//   ROLL:    for each index y along axis 1 the slab F[:, y, :] (D x W, flattened) is rolled by
//            s_y = (Philox word y mod 7) - 3: out[j] = in[(j - s_y) mod DW] (torch.roll without dims).
//   ERODE:   binary erosion with the 6-connected cross, border value 0.
//   HULL:    F where L = 1 and the eroded label E = 0 (the tube wall), else 0.
//   MERGE:   b = B (or 1 - B when inverted); M = (F > 0) for the special artifacts (flags bit 8), else L = 1;
//            paint (flags bit 4): b[M] = F[M]; otherwise b[M] -= F[M] when s < 0, else b[M] += F[M]; clamp [0, 1].
struct Params {
  n: u32,
  d: u32,
  h: u32,
  w: u32,
  key0: u32,
  key1: u32,
  flags: u32,
  stream: u32,
  u: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${OP_CHOOSE}
@group(0) @binding(1) var<storage, read> stats: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> scal: array<vec4f>;
#elif ${OP_FILL}
@group(0) @binding(1) var<storage, read> lab: array<f32>;
@group(0) @binding(2) var<storage, read> scal: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#elif ${OP_HULL}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> lab: array<f32>;
@group(0) @binding(3) var<storage, read> eroded: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#elif ${OP_MERGE}
@group(0) @binding(1) var<storage, read> bg: array<f32>;
@group(0) @binding(2) var<storage, read> lab: array<f32>;
@group(0) @binding(3) var<storage, read> fg: array<f32>;
@group(0) @binding(4) var<storage, read> scal: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

#if ${RANDOM}
fn word_of(e: u32) -> u32 {
  let w = philox4x32_10(vec4u(e / 4u, 0u, p.stream, 0u), vec2u(p.key0, p.key1));
  return w[e % 4u];
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${OP_CHOOSE}
  if (i > 0u) { return; }
  var mu = stats[0].w;
  if ((p.flags & 1u) != 0u) { mu = 1.0 - mu; }
  let len1 = max(0.0, mu - 0.4);
  let len2 = max(0.0, 0.6 - mu);
  let t = p.u * (len1 + len2);
  var c = mu + 0.4 + (t - len1);
  if (t < len1) { c = t; }
  var s = c;
  if ((p.flags & 2u) != 0u) { s = c - mu; }
  scal[0] = vec4f(c, s, abs(s), mu);
#else
  if (i >= p.n) { return; }
#if ${OP_FILL}
  out[i] = select(0.0, scal[0].z, lab[i] > 0.5);
#elif ${OP_DROPOUT}
  let v = src[i];
  out[i] = select(v, 0.0, v > 0.0 && (word_of(i) >> 31u) == 1u);
#elif ${OP_ROLL}
  let slab = p.d * p.w;
  let y = (i / p.w) % p.h;
  let z = i / (p.h * p.w);
  let x = i % p.w;
  let j = z * p.w + x;
  let s = i32(word_of(y) % 7u) - 3;
  let jj = u32((i32(j) - s + 4 * i32(slab)) % i32(slab));
  out[i] = src[((jj / p.w) * p.h + y) * p.w + jj % p.w];
#elif ${OP_ERODE}
  let x = i % p.w;
  let y = (i / p.w) % p.h;
  let z = i / (p.h * p.w);
  var keep = src[i] > 0.5;
  keep = keep && x > 0u && x + 1u < p.w && y > 0u && y + 1u < p.h && z > 0u && z + 1u < p.d;
  if (keep) {
    let hw = p.h * p.w;
    keep = src[i - 1u] > 0.5 && src[i + 1u] > 0.5 && src[i - p.w] > 0.5 && src[i + p.w] > 0.5 && src[i - hw] > 0.5 && src[i + hw] > 0.5;
  }
  out[i] = select(0.0, 1.0, keep);
#elif ${OP_HULL}
  out[i] = select(0.0, src[i], lab[i] > 0.5 && eroded[i] < 0.5);
#elif ${OP_MERGE}
  var b = bg[i];
  if ((p.flags & 1u) != 0u) { b = 1.0 - b; }
  let f = fg[i];
  var m = lab[i] > 0.5;
  if ((p.flags & 8u) != 0u) { m = f > 0.0; }
  var v = b;
  if (m) {
    if ((p.flags & 4u) != 0u) {
      v = f;
    } else if (scal[0].y < 0.0) {
      v = b - f;
    } else {
      v = b + f;
    }
  }
  out[i] = clamp(v, 0.0, 1.0);
#endif
#endif
}
