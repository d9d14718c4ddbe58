// Strided copies (slice, transpose/permute, concatenation), dtype-agnostic: elements move as bit patterns.
//
// GATHER: one invocation per output word (EPW = 1, 2 or 4 elements of 4, 2 or 1 bytes); output element e has
// coordinates c over the (merged) output dims d0..d5 and reads input element in_off + sum(c * s). Packed inputs
// are read by extracting the half-word or byte. Every output word has exactly one writer.
// SCATTER (32-bit words only): one invocation per input element e, written to out_off + sum(c * s), where c
// are the coordinates of e over the input dims (used to place each input of a concatenation).
// Bindings start at element in_base / out_base (aligned) so large tensors can be copied in chunks.
struct Params {
  n: u32, base: u32, off: u32, in_base: u32, out_base: u32,
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// Dims are right-aligned in d0..d5; only the active ones (D0..D5) cost a division.
fn mapped(e: u32) -> u32 {
  var r = e;
  var ix = p.off;
#if ${D5}
  { let q = r / p.d5; ix += (r - q * p.d5) * p.s5; r = q; }
#endif
#if ${D4}
  { let q = r / p.d4; ix += (r - q * p.d4) * p.s4; r = q; }
#endif
#if ${D3}
  { let q = r / p.d3; ix += (r - q * p.d3) * p.s3; r = q; }
#endif
#if ${D2}
  { let q = r / p.d2; ix += (r - q * p.d2) * p.s2; r = q; }
#endif
#if ${D1}
  { let q = r / p.d1; ix += (r - q * p.d1) * p.s1; r = q; }
#endif
#if ${D0}
  ix += r * p.s0;
#endif
  return ix;
}

fn load(i: u32) -> u32 {
  let l = i - p.in_base;
#if ${EPW4}
  return (src[l >> 2u] >> ((l & 3u) * 8u)) & 0xFFu;
#elif ${EPW2}
  return (src[l >> 1u] >> ((l & 1u) * 16u)) & 0xFFFFu;
#else
  return src[l];
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${SCATTER}
  if (t >= p.n) { return; }
  dst[mapped(p.base + t) - p.out_base] = src[p.base + t - p.in_base];
#else
  let e0 = t * ${EPW}u;
  if (e0 >= p.n) { return; }
  var word = 0u;
  for (var j = 0u; j < ${EPW}u; j = j + 1u) {
    if (e0 + j < p.n) { word = word | (load(mapped(p.base + e0 + j)) << (j * ${BITS}u)); }
  }
  dst[t] = word;
#endif
}
