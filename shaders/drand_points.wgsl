// Histogram-shift control points written on the GPU from the uniform block (up to 32 floating points as scalar
// fields), so the chain needs no upload (and no flush): points[q] = (q / (count - 1), f_q) for q < count.
struct Params {
  count: u32,
  f0: f32,
  f1: f32,
  f2: f32,
  f3: f32,
  f4: f32,
  f5: f32,
  f6: f32,
  f7: f32,
  f8: f32,
  f9: f32,
  f10: f32,
  f11: f32,
  f12: f32,
  f13: f32,
  f14: f32,
  f15: f32,
  f16: f32,
  f17: f32,
  f18: f32,
  f19: f32,
  f20: f32,
  f21: f32,
  f22: f32,
  f23: f32,
  f24: f32,
  f25: f32,
  f26: f32,
  f27: f32,
  f28: f32,
  f29: f32,
  f30: f32,
  f31: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> points: array<vec2f>;

@compute @workgroup_size(1)
fn main() {
  let last = f32(p.count - 1u);
  if (p.count > 0u) { points[0u] = vec2f(f32(0u) / last, p.f0); }
  if (p.count > 1u) { points[1u] = vec2f(f32(1u) / last, p.f1); }
  if (p.count > 2u) { points[2u] = vec2f(f32(2u) / last, p.f2); }
  if (p.count > 3u) { points[3u] = vec2f(f32(3u) / last, p.f3); }
  if (p.count > 4u) { points[4u] = vec2f(f32(4u) / last, p.f4); }
  if (p.count > 5u) { points[5u] = vec2f(f32(5u) / last, p.f5); }
  if (p.count > 6u) { points[6u] = vec2f(f32(6u) / last, p.f6); }
  if (p.count > 7u) { points[7u] = vec2f(f32(7u) / last, p.f7); }
  if (p.count > 8u) { points[8u] = vec2f(f32(8u) / last, p.f8); }
  if (p.count > 9u) { points[9u] = vec2f(f32(9u) / last, p.f9); }
  if (p.count > 10u) { points[10u] = vec2f(f32(10u) / last, p.f10); }
  if (p.count > 11u) { points[11u] = vec2f(f32(11u) / last, p.f11); }
  if (p.count > 12u) { points[12u] = vec2f(f32(12u) / last, p.f12); }
  if (p.count > 13u) { points[13u] = vec2f(f32(13u) / last, p.f13); }
  if (p.count > 14u) { points[14u] = vec2f(f32(14u) / last, p.f14); }
  if (p.count > 15u) { points[15u] = vec2f(f32(15u) / last, p.f15); }
  if (p.count > 16u) { points[16u] = vec2f(f32(16u) / last, p.f16); }
  if (p.count > 17u) { points[17u] = vec2f(f32(17u) / last, p.f17); }
  if (p.count > 18u) { points[18u] = vec2f(f32(18u) / last, p.f18); }
  if (p.count > 19u) { points[19u] = vec2f(f32(19u) / last, p.f19); }
  if (p.count > 20u) { points[20u] = vec2f(f32(20u) / last, p.f20); }
  if (p.count > 21u) { points[21u] = vec2f(f32(21u) / last, p.f21); }
  if (p.count > 22u) { points[22u] = vec2f(f32(22u) / last, p.f22); }
  if (p.count > 23u) { points[23u] = vec2f(f32(23u) / last, p.f23); }
  if (p.count > 24u) { points[24u] = vec2f(f32(24u) / last, p.f24); }
  if (p.count > 25u) { points[25u] = vec2f(f32(25u) / last, p.f25); }
  if (p.count > 26u) { points[26u] = vec2f(f32(26u) / last, p.f26); }
  if (p.count > 27u) { points[27u] = vec2f(f32(27u) / last, p.f27); }
  if (p.count > 28u) { points[28u] = vec2f(f32(28u) / last, p.f28); }
  if (p.count > 29u) { points[29u] = vec2f(f32(29u) / last, p.f29); }
  if (p.count > 30u) { points[30u] = vec2f(f32(30u) / last, p.f30); }
  if (p.count > 31u) { points[31u] = vec2f(f32(31u) / last, p.f31); }
}
