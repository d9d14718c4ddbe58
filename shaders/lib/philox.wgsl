// Philox4x32-10 counter-based random numbers (Salmon et al., SC 2011), as a WGSL snippet that kernel modules
// prepend to their own source (kernels/random.ts exports it as PHILOX_WGSL). Only u32 arithmetic is used; the
// 32x32 -> 64-bit product is built from 16-bit halves, so every adapter produces bit-identical words, and the
// CPU reference philoxCpu in kernels/random.ts reproduces them exactly.
//
// Functions (all names start with philox_ so they cannot clash with the including kernel):
//   philox_mulhilo(a: u32, b: u32) -> vec2u        (high word, low word) of the 64-bit product a * b
//   philox4x32_10(ctr: vec4u, key: vec2u) -> vec4u  ten rounds, nine key bumps: four random words
//   philox_unit(x: u32) -> f32                      uniform in [0, 1): top 24 bits times 2^-24, never 1.0
//   philox_unit_pos(x: u32) -> f32                  uniform in (0, 1]: (top 24 bits + 1) times 2^-24, never 0.0
//   philox_uniform4(ctr: vec4u, key: vec2u) -> vec4f four uniforms in [0, 1) from one block
//
// The engine's convention for random tensors (kernels/random.ts follows it; other kernels that want the same
// streams should too): key = (seed mod 2^32, floor(seed / 2^32)); element e = offset + flat index, a 64-bit
// number; block b = e / 4 gives ctr = (b mod 2^32, floor(b / 2^32), stream, 0) with stream 0 for uniform()
// and normal(); the element takes lane e mod 4 of that block, and a normal element is philox_normal of its word
// (shaders/lib/philox_normal.wgsl).

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

fn philox_mulhilo(a: u32, b: u32) -> vec2u {
  let al = a & 0xFFFFu;
  let ah = a >> 16u;
  let bl = b & 0xFFFFu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let hh = ah * bh;
  // Carry out of the low word: at most 3 * (2^16 - 1) + 2^16 - 1, which fits comfortably.
  let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2u(hi, a * b);
}

fn philox_round(c: vec4u, k: vec2u) -> vec4u {
  let p0 = philox_mulhilo(PHILOX_M0, c.x);
  let p1 = philox_mulhilo(PHILOX_M1, c.z);
  return vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
}

fn philox4x32_10(ctr: vec4u, key: vec2u) -> vec4u {
  var c = ctr;
  var k = key;
  c = philox_round(c, k);
  for (var r = 1u; r < 10u; r = r + 1u) {
    k = k + vec2u(PHILOX_W0, PHILOX_W1);
    c = philox_round(c, k);
  }
  return c;
}

fn philox_unit(x: u32) -> f32 {
  return f32(x >> 8u) * 5.9604644775390625e-8;
}

fn philox_unit_pos(x: u32) -> f32 {
  return f32((x >> 8u) + 1u) * 5.9604644775390625e-8;
}

fn philox_uniform4(ctr: vec4u, key: vec2u) -> vec4f {
  let w = philox4x32_10(ctr, key);
  return vec4f(philox_unit(w.x), philox_unit(w.y), philox_unit(w.z), philox_unit(w.w));
}
