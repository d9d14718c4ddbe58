// Fill a buffer with a repeated 32-bit pattern (packed f16 pairs and u8 quads included).
struct Params { n_words: u32, pattern: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i < p.n_words) { out[i] = p.pattern; }
}
