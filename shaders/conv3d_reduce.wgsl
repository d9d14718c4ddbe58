// Sum `chunks` partial results laid out one after another: out[j] = sum over c of part[c * n + j], in a fixed
// order (the deterministic second pass of the split-K conv kernels and of the weight and bias gradients).
// HAS_BIAS adds bias[(j / vol) % channels] (the forward / input-gradient split: j runs over an NC... volume);
// the f32 sum is stored in the output's type OT (f32, or f16 under mixed precision: one rounding, at the end).
${ENABLE_F16}
struct Params { n: u32, chunks: u32, vol: u32, channels: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
#if ${HAS_BIAS}
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<${OT}>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<${OT}>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (j >= p.n) { return; }
  var s = 0.0;
  for (var c = 0u; c < p.chunks; c++) { s += part[c * p.n + j]; }
#if ${HAS_BIAS}
  s += bias[(j / p.vol) % p.channels];
#endif
  out[j] = ${OT}(s);
}
