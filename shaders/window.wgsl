// Sliding-window helpers. crop: copy one window of a volume (optionally mirrored along any axis) into a batch slot.
// accumulate: add one window of logits back into a whole-volume sum, undoing the same mirroring. Each dispatch
// handles one window, so overlapping windows never race: dispatches run in order.
struct Params {
  vz: u32, vy: u32, vx: u32,      // volume size
  z0: u32, y0: u32, x0: u32,      // window origin in the volume
  pz: u32, py: u32, px: u32,      // window size
  flip: u32,                      // bit 0: mirror z, bit 1: mirror y, bit 2: mirror x
  base: u32,                      // element offset of the window in the batch tensor
  n: u32,                         // pz·py·px
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn volume_index(i: u32) -> u32 {
  let x = i % p.px;
  let y = (i / p.px) % p.py;
  let z = i / (p.px * p.py);
  let zz = select(z, p.pz - 1u - z, (p.flip & 1u) != 0u);
  let yy = select(y, p.py - 1u - y, (p.flip & 2u) != 0u);
  let xx = select(x, p.px - 1u - x, (p.flip & 4u) != 0u);
  return ((p.z0 + zz) * p.vy + (p.y0 + yy)) * p.vx + (p.x0 + xx);
}

@compute @workgroup_size(${WG})
fn crop(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
  dst[p.base + i] = src[volume_index(i)];
}

@compute @workgroup_size(${WG})
fn accumulate(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (i >= p.n) { return; }
  let v = volume_index(i);
  dst[v] = dst[v] + src[p.base + i];
}
