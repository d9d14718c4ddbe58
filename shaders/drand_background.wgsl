// Procedural backgrounds of domain randomisation (spec 4.3): a geometry label map (none, spheres, Voronoi cells)
// and an independent min-max-normalised texture per region, generated on the fly. Philox (prepended library) gives
// every random number from (seed, counter). Variants (one STEP_* define each):
//   STEP_LABELS: labels[v] = region of voxel v.
//   STEP_GRID:   the coarse random grids of every (region, octave): value noise N(0, 1) per grid point, the exact
//                normal (shaders/lib/philox_normal.wgsl, table bound as TABLE) of the first word of the block
//                (counter = (point, region, 0x7A1E, octave)), so the grids are the same bits on every adapter;
//                Perlin: a gradient index in 0..11 per lattice point (counter = (point, region, 0x9E71, octave)).
//   STEP_MINMAX: min and max over the whole volume of each region's texture (a workgroup per (voxel chunk, region);
//                atomicMax on order-preserving u32 keys, the min slot holding the complement of its key); with
//                stride > 1 over every stride-th voxel per axis only (an approximation; WRITE clamps to [0, 1]).
//   STEP_WRITE:  out[v] = (t_r(v) - min_r) / (max_r - min_r) scale_r for r = region of v (0 when max = min);
//                plain texture: out[v] = plain_r scale_r; RAW: out[v] = t_r(v) scale_r (not normalised).
// Texture t_r(v) = sum_o amp[r, o] sample_o(v):
//   TEX_VALUE:  sample_o = trilinear upsampling of the octave grid (torch interpolate, align_corners False:
//               src = (i + 0.5) g / n - 0.5, clamped at 0);
//   TEX_PERLIN: improved Perlin gradient noise at P = v f_o (fade 6t^5 - 15t^4 + 10t^3, 12 edge gradients),
//               zero at lattice points.
// Octave table octs[2 o] = (gd, gh, gw, offset in the region's grid), octs[2 o + 1] = bitcast f32 (Perlin frequency,
// gd / d, gh / h, gw / w) with the ratios rounded once on the CPU, as torch computes its scales.
// Shapes: spheres (z, y, x, r^2) labelled 1, 2, ... (0 outside); Voronoi seeds (z, y, x, 0) labelled by the nearest
// seed (first on ties).
struct Params {
  n: u32,
  d: u32,
  h: u32,
  w: u32,
  regions: u32,
  nshapes: u32,
  octaves: u32,
  grid_total: u32,
  key0: u32,
  key1: u32,
  stride: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${HAS_SHAPES}
@group(0) @binding(${B_SHAPES}) var<storage, read> shapes: array<vec4f>;
#endif
#if ${HAS_OCTS}
@group(0) @binding(${B_OCTS}) var<storage, read> octs: array<vec4u>;
#endif
#if ${HAS_AMP}
@group(0) @binding(${B_AMP}) var<storage, read> amp: array<f32>;
#endif
#if ${HAS_GRID}
@group(0) @binding(${B_GRID}) var<storage, read> grid: array<f32>;
#endif
#if ${HAS_GRID_OUT}
@group(0) @binding(${B_GRID_OUT}) var<storage, read_write> grid_out: array<f32>;
#endif
#if ${HAS_MM_ATOMIC}
@group(0) @binding(${B_MM_ATOMIC}) var<storage, read_write> mm: array<atomic<u32>>;
#endif
#if ${HAS_MM}
@group(0) @binding(${B_MM}) var<storage, read> mm: array<u32>;
#endif
#if ${HAS_REGP}
@group(0) @binding(${B_REGP}) var<storage, read> regp: array<vec2f>;
#endif
#if ${HAS_LABELS}
@group(0) @binding(${B_LABELS}) var<storage, read_write> labels: array<u32>;
#endif
#if ${HAS_OUT}
@group(0) @binding(${B_OUT}) var<storage, read_write> out: array<f32>;
#endif
#if ${HAS_TABLE}
@group(0) @binding(${B_TABLE}) var<storage, read> PHILOX_NORMAL_TABLE: array<i32>;
#endif

fn voxel(i: u32) -> vec3u {
  return vec3u(i / (p.h * p.w), (i / p.w) % p.h, i % p.w);
}

#if ${GEOM_SPHERES}
fn region_of(v: vec3u) -> u32 {
  let q = vec3f(v);
  for (var s = 0u; s < p.nshapes; s++) {
    let c = shapes[s];
    let dv = q - c.xyz;
    if (dot(dv, dv) <= c.w) { return s + 1u; }
  }
  return 0u;
}
#elif ${GEOM_VORONOI}
fn region_of(v: vec3u) -> u32 {
  let q = vec3f(v);
  var best = 0u;
  var bd = 3.4e38;
  for (var s = 0u; s < p.nshapes; s++) {
    let dv = q - shapes[s].xyz;
    let dd = dot(dv, dv);
    if (dd < bd) {
      bd = dd;
      best = s;
    }
  }
  return best;
}
#else
fn region_of(v: vec3u) -> u32 {
  return 0u;
}
#endif

#if ${FN_VALUE}
// One axis of torch's linear upsampling from g to n samples (align_corners False) with ratio = g / n:
// (i0, i1, weight of i1).
fn lin(i: u32, g: u32, ratio: f32) -> vec3f {
  let src = max((f32(i) + 0.5) * ratio - 0.5, 0.0);
  let i0 = u32(src);
  let i1 = min(i0 + 1u, g - 1u);
  return vec3f(f32(i0), f32(i1), src - f32(i0));
}

fn octave_sample(base: u32, o: vec4u, ratio: vec3f, v: vec3u) -> f32 {
  let az = lin(v.x, o.x, ratio.x);
  let ay = lin(v.y, o.y, ratio.y);
  let ax = lin(v.z, o.z, ratio.z);
  let x0 = u32(ax.x);
  let x1 = u32(ax.y);
  let r00 = base + (u32(az.x) * o.y + u32(ay.x)) * o.z;
  let r01 = base + (u32(az.x) * o.y + u32(ay.y)) * o.z;
  let r10 = base + (u32(az.y) * o.y + u32(ay.x)) * o.z;
  let r11 = base + (u32(az.y) * o.y + u32(ay.y)) * o.z;
  let c0 = mix(mix(grid[r00 + x0], grid[r00 + x1], ax.z), mix(grid[r01 + x0], grid[r01 + x1], ax.z), ay.z);
  let c1 = mix(mix(grid[r10 + x0], grid[r10 + x1], ax.z), mix(grid[r11 + x0], grid[r11 + x1], ax.z), ay.z);
  return mix(c0, c1, az.z);
}
#endif

#if ${FN_PERLIN}
fn fade(t: vec3f) -> vec3f {
  return t * t * t * (t * (t * 6.0 - 15.0) + 10.0);
}

// dot(g_k, d) for the 12 cube-edge gradients of improved Perlin noise, in the order (+-1, +-1, 0) for k < 4,
// (+-1, 0, +-1) for k < 8, (0, +-1, +-1) otherwise; bit 0 of k negates the first component, bit 1 the second.
fn grad_dot(k: u32, d: vec3f) -> f32 {
  let u = select(d.y, d.x, k < 8u);
  let w = select(d.z, d.y, k < 4u);
  return select(u, -u, (k & 1u) != 0u) + select(w, -w, (k & 2u) != 0u);
}

fn corner(base: u32, o: vec4u, q: vec3u, d: vec3f) -> f32 {
  return grad_dot(u32(grid[base + (q.x * o.y + q.y) * o.z + q.z]), d);
}

fn octave_sample(base: u32, o: vec4u, f: f32, v: vec3u) -> f32 {
  let P = vec3f(v) * f;
  let c = floor(P);
  let r = P - c;
  let q = vec3u(c);
  let u = fade(r);
  let n000 = corner(base, o, q, r);
  let n001 = corner(base, o, q + vec3u(0u, 0u, 1u), r - vec3f(0.0, 0.0, 1.0));
  let n010 = corner(base, o, q + vec3u(0u, 1u, 0u), r - vec3f(0.0, 1.0, 0.0));
  let n011 = corner(base, o, q + vec3u(0u, 1u, 1u), r - vec3f(0.0, 1.0, 1.0));
  let n100 = corner(base, o, q + vec3u(1u, 0u, 0u), r - vec3f(1.0, 0.0, 0.0));
  let n101 = corner(base, o, q + vec3u(1u, 0u, 1u), r - vec3f(1.0, 0.0, 1.0));
  let n110 = corner(base, o, q + vec3u(1u, 1u, 0u), r - vec3f(1.0, 1.0, 0.0));
  let n111 = corner(base, o, q + vec3u(1u, 1u, 1u), r - vec3f(1.0, 1.0, 1.0));
  let c0 = mix(mix(n000, n001, u.z), mix(n010, n011, u.z), u.y);
  let c1 = mix(mix(n100, n101, u.z), mix(n110, n111, u.z), u.y);
  return mix(c0, c1, u.x);
}
#endif

#if ${HAS_GRID}
fn tex_value(r: u32, v: vec3u) -> f32 {
  var t = 0.0;
  for (var k = 0u; k < p.octaves; k++) {
    let o = octs[2u * k];
    let base = r * p.grid_total + o.w;
#if ${FN_VALUE}
    let rb = octs[2u * k + 1u];
    t += amp[r * p.octaves + k] * octave_sample(base, o, vec3f(bitcast<f32>(rb.y), bitcast<f32>(rb.z), bitcast<f32>(rb.w)), v);
#else
    t += amp[r * p.octaves + k] * octave_sample(base, o, bitcast<f32>(octs[2u * k + 1u].x), v);
#endif
  }
  return t;
}
#endif

fn key_of(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn value_of(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7FFFFFFFu, (k & 0x80000000u) != 0u));
}

var<workgroup> smin: array<f32, ${WG}>;
var<workgroup> smax: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
#if ${STEP_MINMAX}
  // Over the sub-lattice of every stride-th voxel per axis (stride 1: every voxel, the exact min and max).
  let r = wid.y;
  let sd = (p.d + p.stride - 1u) / p.stride;
  let sh = (p.h + p.stride - 1u) / p.stride;
  let sw = (p.w + p.stride - 1u) / p.stride;
  let start = wid.x * ${CHUNK}u;
  let stop = min(start + ${CHUNK}u, sd * sh * sw);
  var mn = 3.4e38;
  var mx = -3.4e38;
  for (var i = start + lid; i < stop; i += ${WG}u) {
    let sv = vec3u(i / (sh * sw), (i / sw) % sh, i % sw);
    let t = tex_value(r, sv * p.stride);
    mn = min(mn, t);
    mx = max(mx, t);
  }
  smin[lid] = mn;
  smax[lid] = mx;
  workgroupBarrier();
  for (var k = ${WG}u / 2u; k > 0u; k /= 2u) {
    if (lid < k) {
      smin[lid] = min(smin[lid], smin[lid + k]);
      smax[lid] = max(smax[lid], smax[lid + k]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    // Both slots start at 0 and only grow: the complement of the min key, and the max key.
    atomicMax(&mm[2u * r], ~key_of(smin[0]));
    atomicMax(&mm[2u * r + 1u], key_of(smax[0]));
  }
#else
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${STEP_GRID}
  if (i >= p.regions * p.grid_total) { return; }
  let r = i / p.grid_total;
  let j = i % p.grid_total;
  var o = 0u;
  for (var k = 1u; k < p.octaves; k++) {
    if (j >= octs[2u * k].w) { o = k; }
  }
  let pt = j - octs[2u * o].w;
#if ${TEX_VALUE}
  let wds = philox4x32_10(vec4u(pt, r, 0x7A1Eu, o), vec2u(p.key0, p.key1));
  grid_out[i] = philox_normal(wds.x);
#else
  let wds = philox4x32_10(vec4u(pt, r, 0x9E71u, o), vec2u(p.key0, p.key1));
  grid_out[i] = f32(wds.x % 12u);
#endif
#else
  if (i >= p.n) { return; }
  let v = voxel(i);
  let r = region_of(v);
#if ${STEP_LABELS}
  labels[i] = r;
#elif ${TEX_PLAIN}
  out[i] = regp[r].y * regp[r].x;
#elif ${RAW}
  out[i] = tex_value(r, v) * regp[r].x;
#else
  let mn = value_of(~mm[2u * r]);
  let mx = value_of(mm[2u * r + 1u]);
  var t = 0.0;
  if (mx > mn) { t = clamp((tex_value(r, v) - mn) / (mx - mn), 0.0, 1.0); }
  out[i] = t * regp[r].x;
#endif
#endif
#endif
}
