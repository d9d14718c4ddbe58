// Bias gradient, pass 1: per channel c and chunk k, the sum of dy[n, c, v] over the chunk's share of (n, v).
// Each workgroup reduces its share with a fixed-shape tree in workgroup memory; pass 2 (conv3d_reduce.wgsl) adds
// the chunks in order. Output layout: part[k * channels + c]. dy may be stored as f16 (T); the sums are f32.
${ENABLE_F16}
struct Params { channels: u32, vol: u32, batch: u32, per_chunk: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<${T}>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

var<workgroup> red: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let k = wid.y;
  let total = p.batch * p.vol;
  let e0 = k * p.per_chunk;
  let e1 = min(total, e0 + p.per_chunk);
  var s = 0.0;
  for (var e = e0 + lid; e < e1; e += ${WG}u) {
    let n = e / p.vol;
    let v = e % p.vol;
    s += f32(dy[(n * p.channels + c) * p.vol + v]);
  }
  red[lid] = s;
  workgroupBarrier();
  for (var h = ${WG}u / 2u; h > 0u; h = h / 2u) {
    if (lid < h) { red[lid] += red[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u) { part[k * p.channels + c] = red[0]; }
}
