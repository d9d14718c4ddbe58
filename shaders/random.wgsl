// Random tensors from Philox4x32-10 (prepended: shaders/lib/philox.wgsl, and for normals
// shaders/lib/philox_normal.wgsl, whose table is binding 2). One invocation writes four consecutive
// elements (whole u32 words for packed f16). Element e = base + local index, a 64-bit number split in two words;
// it takes lane e mod 4 of block e / 4, so a chunk whose base is not a multiple of 4 straddles two blocks.
// Every value is bit-identical on all adapters: the words and the standard uniforms and normals are integer
// arithmetic plus an exact conversion; p1 + p2 * x rounds the product first on every adapter because its bits pass
// through an XOR with opaque (always 0, but unknown to the compiler, so it cannot fuse a multiply-add); f16
// outputs are rounded to nearest even by integer operations (f16_bits), not by the adapter's conversion.
struct Params { n: u32, key0: u32, key1: u32, base_lo: u32, base_hi: u32, p1: f32, p2: f32, p3: f32, opaque: u32 }
@group(0) @binding(0) var<uniform> p: Params;
#if ${MODE_BITS}
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
#elif ${OUT_F16}
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
#else
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
#endif
#if ${MODE_NORMAL}
@group(0) @binding(2) var<storage, read> PHILOX_NORMAL_TABLE: array<i32>;
#endif

fn affine(x: vec4f) -> vec4f {
  let prod = bitcast<vec4f>(bitcast<vec4u>(vec4f(p.p2) * x) ^ vec4u(p.opaque));
  return vec4f(p.p1) + prod;
}

// The value of one word: uniform in [0, 1) or a standard normal (integer arithmetic only in both).
fn word_value(w: u32) -> f32 {
#if ${MODE_UNIFORM}
  return philox_unit(w);
#elif ${MODE_NORMAL}
  return philox_normal(w);
#else
  return 0.0;
#endif
}

// IEEE binary16 bits of an f32, rounded to nearest even (overflow to infinity, gradual underflow), integers only.
fn f16_bits(v: f32) -> u32 {
  let x = bitcast<u32>(v);
  let sign = (x >> 16u) & 0x8000u;
  let ex = i32((x >> 23u) & 0xFFu) - 112;
  var mant = x & 0x7FFFFFu;
  if (ex >= 31) { return sign | 0x7C00u; }
  if (ex <= 0) {
    if (ex < -10) { return sign; }
    mant = mant | 0x800000u;
    let sh = u32(14 - ex);
    var h = mant >> sh;
    let rem = mant & ((1u << sh) - 1u);
    let half = 1u << (sh - 1u);
    if (rem > half || (rem == half && (h & 1u) == 1u)) { h = h + 1u; }
    return sign | h;
  }
  var h = (u32(ex) << 10u) | (mant >> 13u);
  let rem = mant & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h = h + 1u; }
  return sign | h;
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  let i0 = q * 4u;
  if (i0 >= p.n) { return; }
  // e0 = base + i0 with carry into the high word.
  let elo = p.base_lo + i0;
  let ehi = p.base_hi + select(0u, 1u, elo < i0);
  let lane = elo & 3u;
  let blo = (elo >> 2u) | (ehi << 30u);
  let bhi = ehi >> 2u;
  let blo1 = blo + 1u;
  let bhi1 = bhi + select(0u, 1u, blo1 == 0u);
  let key = vec2u(p.key0, p.key1);
  let w0 = philox4x32_10(vec4u(blo, bhi, 0u, 0u), key);
  var w1 = vec4u(0u);
  if (lane != 0u) { w1 = philox4x32_10(vec4u(blo1, bhi1, 0u, 0u), key); }
  // The words of elements i0 .. i0 + 3: lanes lane .. 3 of block b, then lanes 0 .. lane - 1 of block b + 1.
  var words: vec4u;
  for (var j = 0u; j < 4u; j = j + 1u) {
    let l = lane + j;
    words[j] = select(w1[l & 3u], w0[l & 3u], l < 4u);
  }
#if ${MODE_BITS}
  for (var j = 0u; j < 4u; j = j + 1u) {
    if (i0 + j < p.n) { out[i0 + j] = words[j]; }
  }
#else
  var x: vec4f;
  for (var j = 0u; j < 4u; j = j + 1u) { x[j] = word_value(words[j]); }
#if ${MODE_UNIFORM}
  let v = min(affine(x), vec4f(p.p3));
#else
  let v = affine(x);
#endif
#if ${OUT_F16}
  let w = q * 2u;
  out[w] = f16_bits(v.x) | (f16_bits(v.y) << 16u);
  if (i0 + 2u < p.n) { out[w + 1u] = f16_bits(v.z) | (f16_bits(v.w) << 16u); }
#else
  for (var j = 0u; j < 4u; j = j + 1u) {
    if (i0 + j < p.n) { out[i0 + j] = v[j]; }
  }
#endif
#endif
}
