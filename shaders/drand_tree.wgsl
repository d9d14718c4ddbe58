// Procedural vessel moulds: the binary mask of a union of tapered capsules, u8-packed (four voxels per u32 word,
// voxel 4i + j in byte j). Voxel centres sit at integer (z, y, x). A voxel is inside when for some segment
// |q - c(t)| - r(t) <= 0, with t the clamped projection of q onto the axis a -> b, c(t) = a + t (b - a) and
// r(t) = ra + t (rb - ra). Only the segments on the voxel's tile candidate list are tested: the volume is cut into
// cubic tiles of TILE voxels, and list k holds every segment that can reach tile k (built on the CPU).
//   segs:  2 vec4f per segment: (a, ra), (b, rb)
//   tiles: ntiles + 1 start offsets, then the concatenated candidate lists (segment indices)
struct Params {
  n: u32,
  d: u32,
  h: u32,
  w: u32,
  tile: u32,
  ty: u32,
  tx: u32,
  ntiles: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> segs: array<vec4f>;
@group(0) @binding(2) var<storage, read> tiles: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

fn inside(v: u32) -> bool {
  let x = v % p.w;
  let y = (v / p.w) % p.h;
  let z = v / (p.w * p.h);
  let t = ((z / p.tile) * p.ty + y / p.tile) * p.tx + x / p.tile;
  let s0 = tiles[t];
  let s1 = tiles[t + 1u];
  let q = vec3f(f32(z), f32(y), f32(x));
  for (var k = s0; k < s1; k++) {
    let s = tiles[p.ntiles + 1u + k];
    let a = segs[2u * s];
    let b = segs[2u * s + 1u];
    let ab = b.xyz - a.xyz;
    let l2 = dot(ab, ab);
    var u = 0.0;
    if (l2 > 0.0) { u = clamp(dot(q - a.xyz, ab) / l2, 0.0, 1.0); }
    let dist = length(q - (a.xyz + u * ab)) - (a.w + u * (b.w - a.w));
    if (dist <= 0.0) { return true; }
  }
  return false;
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= (p.n + 3u) / 4u) { return; }
  var word = 0u;
  for (var j = 0u; j < 4u; j++) {
    let v = 4u * i + j;
    if (v < p.n && inside(v)) { word = word | (1u << (8u * j)); }
  }
  out[i] = word;
}
