// Label (mould) spatial transforms of domain randomisation (spec 4.4), resampled once.
//   GATHER: out[o] for each output voxel o = (z, y, x) of a D x H x W label (f32, 0 or 1):
//     1. elastic (ELASTIC): position o + magnitude * disp[:, o] (voxel units), reflected about -0.5 and n - 0.5
//        (grid_sample reflection, align_corners False), rounded half to even and clamped: the zoomed voxel q;
//        without ELASTIC, q = o;
//     2. zoom (p.zoom != 0): r = min(floor((q + start) * scale), n - 1) per axis (torch nearest interpolation to
//        floor(n z) voxels with recompute_scale_factor, then the centre crop back to n);
//     3. the affine m = M (r, 1) (flips, rot90s and an optional rotation, composed on the CPU): crop-window
//        coordinates, rounded; outside the window the label is 0;
//     4. the mould voxel at m + crop start (u8-packed mould), or with DILATE the maximum over its 26-neighbourhood
//        inside the crop window (3x3x3 box dilation with zero padding).
//   THRESH: out = 1 where x > p.thresh, else 0 (binary smoothing's threshold).
struct Params {
  n: u32,
  d: u32,
  h: u32,
  w: u32,
  md: u32,
  mh: u32,
  mw: u32,
  zoom: u32,
  cz: u32,
  cy: u32,
  cx: u32,
  zstart: u32,
  ystart: u32,
  xstart: u32,
  zscale: f32,
  yscale: f32,
  xscale: f32,
  magnitude: f32,
  thresh: f32,
  m00: f32, m01: f32, m02: f32, m03: f32,
  m10: f32, m11: f32, m12: f32, m13: f32,
  m20: f32, m21: f32, m22: f32, m23: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${GATHER}
@group(0) @binding(1) var<storage, read> mould: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#if ${ELASTIC}
@group(0) @binding(3) var<storage, read> disp: array<f32>;
#endif
#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

#if ${GATHER}
fn reflect_nearest(x: f32, size: u32) -> i32 {
  let span = f32(size);
  let t = abs(x + 0.5);
  let extra = t % span;
  let flips = floor(t / span);
  var r = extra - 0.5;
  if ((u32(flips) & 1u) == 1u) { r = span - extra - 0.5; }
  r = clamp(r, 0.0, span - 1.0);
  return i32(round(r));
}

fn mould_at(c: vec3i) -> f32 {
  let v = u32(c.x + i32(p.cz)) * p.mh * p.mw + u32(c.y + i32(p.cy)) * p.mw + u32(c.z + i32(p.cx));
  return f32((mould[v / 4u] >> (8u * (v % 4u))) & 0xFFu);
}

fn in_window(c: vec3i) -> bool {
  return c.x >= 0 && c.y >= 0 && c.z >= 0 && c.x < i32(p.d) && c.y < i32(p.h) && c.z < i32(p.w);
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
#if ${GATHER}
  let oz = i / (p.h * p.w);
  let oy = (i / p.w) % p.h;
  let ox = i % p.w;
  // Components: .x = axis 0 (z), .y = axis 1 (y), .z = axis 2 (x).
  var q = vec3i(i32(oz), i32(oy), i32(ox));
#if ${ELASTIC}
  q = vec3i(
    reflect_nearest(f32(oz) + p.magnitude * disp[i], p.d),
    reflect_nearest(f32(oy) + p.magnitude * disp[p.n + i], p.h),
    reflect_nearest(f32(ox) + p.magnitude * disp[2u * p.n + i], p.w));
#endif
  var r = vec3f(q);
  if (p.zoom != 0u) {
    r = vec3f(
      min(floor(f32(q.x + i32(p.zstart)) * p.zscale), f32(p.d - 1u)),
      min(floor(f32(q.y + i32(p.ystart)) * p.yscale), f32(p.h - 1u)),
      min(floor(f32(q.z + i32(p.xstart)) * p.xscale), f32(p.w - 1u)));
  }
  let m = vec3f(
    p.m00 * r.x + p.m01 * r.y + p.m02 * r.z + p.m03,
    p.m10 * r.x + p.m11 * r.y + p.m12 * r.z + p.m13,
    p.m20 * r.x + p.m21 * r.y + p.m22 * r.z + p.m23);
  let c = vec3i(round(m));
  var v = 0.0;
#if ${DILATE}
  for (var dz = -1; dz <= 1; dz++) {
    for (var dy = -1; dy <= 1; dy++) {
      for (var dx = -1; dx <= 1; dx++) {
        let cc = c + vec3i(dz, dy, dx);
        if (in_window(cc)) { v = max(v, mould_at(cc)); }
      }
    }
  }
#else
  if (in_window(c)) { v = mould_at(c); }
#endif
  out[i] = min(v, 1.0);
#else
  out[i] = select(0.0, 1.0, src[i] > p.thresh);
#endif
}
