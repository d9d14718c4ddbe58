// Elementwise ops with NumPy broadcasting: out[i] = op(a[ia], b[ib], c[ic]) for one, two or three operands.
// An invocation writes whole u32 words: four elements on the vector path, otherwise one 32-bit element, two f16
// or four u8 — so no two invocations ever share an output word.
//
// Operand modes (per operand): SAME (same shape as the output), SCALAR (one element), BC (broadcast: index from
// the output coordinates and the operand's strides, 0 along broadcast dimensions). X_VEC marks an operand read
// four at a time (vec4 for 32-bit types, two words for f16, one word for u8). The VEC path (four outputs per
// invocation) is used when the count is a multiple of 4 and, with broadcasting, the innermost merged dimension
// is a multiple of 4 and every broadcast operand walks it with stride 0 (splat) or 1 (vector load).
//
// Defines: WG; ARITY2/ARITY3; F16 (enable f16); for X in A, B, C: X_VEC, X_SC, X_BC, X_F16, X_U8, X_ST (storage
// element type), X_CT (compute type); OUT_F16, OUT_U8, OUT_ST, OUT_CT, OUT_BINDING; VEC; BC (any operand
// broadcast); D0..D5 (active broadcast dimensions, D5 innermost); FLOAT (helpers for float compute types);
// EXPR (the op, in terms of a, b, c and the uniforms p.s0, p.s1, p.k0, p.k1).
#if ${F16}
enable f16;
#endif

struct Params {
  n: u32, base: u32,
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  sa0: u32, sa1: u32, sa2: u32, sa3: u32, sa4: u32, sa5: u32,
  sb0: u32, sb1: u32, sb2: u32, sb3: u32, sb4: u32, sb5: u32,
  sc0: u32, sc1: u32, sc2: u32, sc3: u32, sc4: u32, sc5: u32,
  s0: f32, s1: f32, k0: u32, k1: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

// ---- operand a ----
#if ${A_VEC}
#if ${A_F16}
@group(0) @binding(1) var<storage, read> A: array<vec2<u32>>;
fn load4_a(i0: u32) -> vec4<f16> { return bitcast<vec4<f16>>(A[i0 >> 2u]); }
#elif ${A_U8}
@group(0) @binding(1) var<storage, read> A: array<u32>;
fn load4_a(i0: u32) -> vec4<u32> { let w = A[i0 >> 2u]; return (vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xFFu); }
#else
@group(0) @binding(1) var<storage, read> A: array<vec4<${A_ST}>>;
fn load4_a(i0: u32) -> vec4<${A_CT}> { return A[i0 >> 2u]; }
#endif
#else
@group(0) @binding(1) var<storage, read> A: array<${A_ST}>;
fn load_a(i: u32) -> ${A_CT} {
#if ${A_F16}
  return bitcast<vec2<f16>>(A[i >> 1u])[i & 1u];
#elif ${A_U8}
  return (A[i >> 2u] >> ((i & 3u) * 8u)) & 0xFFu;
#else
  return A[i];
#endif
}
fn load4_a(i: u32) -> vec4<${A_CT}> { return vec4<${A_CT}>(load_a(i)); }
#endif

// ---- operand b ----
#if ${ARITY2}
#if ${B_VEC}
#if ${B_F16}
@group(0) @binding(2) var<storage, read> B: array<vec2<u32>>;
fn load4_b(i0: u32) -> vec4<f16> { return bitcast<vec4<f16>>(B[i0 >> 2u]); }
#elif ${B_U8}
@group(0) @binding(2) var<storage, read> B: array<u32>;
fn load4_b(i0: u32) -> vec4<u32> { let w = B[i0 >> 2u]; return (vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xFFu); }
#else
@group(0) @binding(2) var<storage, read> B: array<vec4<${B_ST}>>;
fn load4_b(i0: u32) -> vec4<${B_CT}> { return B[i0 >> 2u]; }
#endif
#else
@group(0) @binding(2) var<storage, read> B: array<${B_ST}>;
fn load_b(i: u32) -> ${B_CT} {
#if ${B_F16}
  return bitcast<vec2<f16>>(B[i >> 1u])[i & 1u];
#elif ${B_U8}
  return (B[i >> 2u] >> ((i & 3u) * 8u)) & 0xFFu;
#else
  return B[i];
#endif
}
fn load4_b(i: u32) -> vec4<${B_CT}> { return vec4<${B_CT}>(load_b(i)); }
#endif
#endif

// ---- operand c ----
#if ${ARITY3}
#if ${C_VEC}
#if ${C_F16}
@group(0) @binding(3) var<storage, read> C: array<vec2<u32>>;
fn load4_c(i0: u32) -> vec4<f16> { return bitcast<vec4<f16>>(C[i0 >> 2u]); }
#elif ${C_U8}
@group(0) @binding(3) var<storage, read> C: array<u32>;
fn load4_c(i0: u32) -> vec4<u32> { let w = C[i0 >> 2u]; return (vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xFFu); }
#else
@group(0) @binding(3) var<storage, read> C: array<vec4<${C_ST}>>;
fn load4_c(i0: u32) -> vec4<${C_CT}> { return C[i0 >> 2u]; }
#endif
#else
@group(0) @binding(3) var<storage, read> C: array<${C_ST}>;
fn load_c(i: u32) -> ${C_CT} {
#if ${C_F16}
  return bitcast<vec2<f16>>(C[i >> 1u])[i & 1u];
#elif ${C_U8}
  return (C[i >> 2u] >> ((i & 3u) * 8u)) & 0xFFu;
#else
  return C[i];
#endif
}
fn load4_c(i: u32) -> vec4<${C_CT}> { return vec4<${C_CT}>(load_c(i)); }
#endif
#endif

// ---- output ----
#if ${VEC}
#if ${OUT_F16}
@group(0) @binding(${OUT_BINDING}) var<storage, read_write> OUT: array<vec2<u32>>;
#elif ${OUT_U8}
@group(0) @binding(${OUT_BINDING}) var<storage, read_write> OUT: array<u32>;
#else
@group(0) @binding(${OUT_BINDING}) var<storage, read_write> OUT: array<vec4<${OUT_ST}>>;
#endif
#else
@group(0) @binding(${OUT_BINDING}) var<storage, read_write> OUT: array<${OUT_ST}>;
#endif

// ---- helpers for float compute types ----
#if ${F16}
fn ew_f16(a: f32) -> f16 {
  // Out-of-range values become ±inf, as a cast in NumPy does (WGSL leaves them undefined).
  // (65504 * 2 overflows at run time; an infinite constant would be a shader-creation error.)
  let big = f16(65504.0);
  if (abs(a) >= 65520.0) { return select(big, -big, a < 0.0) * f16(2.0); }
  return f16(a);
}
#endif
// NaN tests on the bits: compilers may assume x != x is false (WGSL permits finite-math optimisations).
fn ew_nan32(x: f32) -> bool { return (bitcast<u32>(x) & 0x7FFFFFFFu) > 0x7F800000u; }
#if ${F16}
fn ew_nan16(x: f16) -> bool { return (bitcast<u32>(vec2<f16>(x, x)) & 0x7FFFu) > 0x7C00u; }
#endif
#if ${FLOAT}
alias FT = ${FT};
#if ${FT_F16}
fn ew_isnan(x: FT) -> bool { return ew_nan16(x); }
#else
fn ew_isnan(x: FT) -> bool { return ew_nan32(x); }
#endif
// NumPy semantics: integral exponents of negative bases are defined; 0^negative is +inf. Computed in f32
// (f16 pow loses several bits through log2/exp2 in half precision) and rounded once.
fn ew_pow32(a: f32, b: f32) -> f32 {
  let m = pow(abs(a), b);
  let odd = abs(b - 2.0 * floor(b * 0.5)) == 1.0;
  if (a < 0.0) {
    if (floor(b) != b) { return 0.0 / (a - a); }
    return select(m, -m, odd);
  }
  if (a == 0.0) {
    if (b > 0.0) { return 0.0; }
    if (b == 0.0) { return 1.0; }
    return 1.0 / a;
  }
  return m;
}
#if ${FT_F16}
fn ew_pow(a: FT, b: FT) -> FT { return ew_f16(ew_pow32(f32(a), f32(b))); }
#else
fn ew_pow(a: FT, b: FT) -> FT { return ew_pow32(a, b); }
#endif
fn ew_max(a: FT, b: FT) -> FT { return select(max(a, b), a + b, ew_isnan(a) || ew_isnan(b)); }
fn ew_min(a: FT, b: FT) -> FT { return select(min(a, b), a + b, ew_isnan(a) || ew_isnan(b)); }
#endif


#if ${ARITY3}
fn op(a: ${A_CT}, b: ${B_CT}, c: ${C_CT}) -> ${OUT_CT} { return ${EXPR}; }
#elif ${ARITY2}
fn op(a: ${A_CT}, b: ${B_CT}) -> ${OUT_CT} { return ${EXPR}; }
#else
fn op(a: ${A_CT}) -> ${OUT_CT} { return ${EXPR}; }
#endif

#if ${BC}
// Flat output index -> flat index into each broadcast operand (x: a, y: b, z: c).
fn bcast_index(g: u32) -> vec3<u32> {
  var r = g;
  var ix = vec3<u32>(0u);
#if ${D5}
  { let q = r / p.d5; ix += (r - q * p.d5) * vec3<u32>(p.sa5, p.sb5, p.sc5); r = q; }
#endif
#if ${D4}
  { let q = r / p.d4; ix += (r - q * p.d4) * vec3<u32>(p.sa4, p.sb4, p.sc4); r = q; }
#endif
#if ${D3}
  { let q = r / p.d3; ix += (r - q * p.d3) * vec3<u32>(p.sa3, p.sb3, p.sc3); r = q; }
#endif
#if ${D2}
  { let q = r / p.d2; ix += (r - q * p.d2) * vec3<u32>(p.sa2, p.sb2, p.sc2); r = q; }
#endif
#if ${D1}
  { let q = r / p.d1; ix += (r - q * p.d1) * vec3<u32>(p.sa1, p.sb1, p.sc1); r = q; }
#endif
#if ${D0}
  ix += r * vec3<u32>(p.sa0, p.sb0, p.sc0);
#endif
  return ix;
}
#endif

#if ${VEC}
#else
fn element(i: u32) -> ${OUT_CT} {
#if ${BC}
  let bi = bcast_index(p.base + i);
#endif
#if ${A_BC}
  let a = load_a(bi.x);
#elif ${A_SC}
  let a = load_a(0u);
#else
  let a = load_a(i);
#endif
#if ${ARITY2}
#if ${B_BC}
  let b = load_b(bi.y);
#elif ${B_SC}
  let b = load_b(0u);
#else
  let b = load_b(i);
#endif
#endif
#if ${ARITY3}
#if ${C_BC}
  let c = load_c(bi.z);
#elif ${C_SC}
  let c = load_c(0u);
#else
  let c = load_c(i);
#endif
  return op(a, b, c);
#elif ${ARITY2}
  return op(a, b);
#else
  return op(a);
#endif
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${VEC}
  // Four elements per invocation, whole vectors / words in and out. With broadcasting, the four share every
  // coordinate but the innermost (its extent is a multiple of 4), so the operand indices are computed once.
  let i0 = t * 4u;
  if (i0 >= p.n) { return; }
  var bi = vec3<u32>(0u);
#if ${BC}
  bi = bcast_index(p.base + i0);
#endif
#if ${A_BC}
  let va = load4_a(bi.x);
#elif ${A_SC}
  let va = load4_a(0u);
#else
  let va = load4_a(i0);
#endif
#if ${ARITY2}
#if ${B_BC}
  let vb = load4_b(bi.y);
#elif ${B_SC}
  let vb = load4_b(0u);
#else
  let vb = load4_b(i0);
#endif
#endif
#if ${ARITY3}
#if ${C_BC}
  let vc = load4_c(bi.z);
#elif ${C_SC}
  let vc = load4_c(0u);
#else
  let vc = load4_c(i0);
#endif
  let r = vec4<${OUT_CT}>(op(va.x, vb.x, vc.x), op(va.y, vb.y, vc.y), op(va.z, vb.z, vc.z), op(va.w, vb.w, vc.w));
#elif ${ARITY2}
  let r = vec4<${OUT_CT}>(op(va.x, vb.x), op(va.y, vb.y), op(va.z, vb.z), op(va.w, vb.w));
#else
  let r = vec4<${OUT_CT}>(op(va.x), op(va.y), op(va.z), op(va.w));
#endif
#if ${OUT_F16}
  OUT[t] = bitcast<vec2<u32>>(r);
#elif ${OUT_U8}
  OUT[t] = r.x | (r.y << 8u) | (r.z << 16u) | (r.w << 24u);
#else
  OUT[t] = r;
#endif
#elif ${OUT_F16}
  // One output word (two f16) per invocation.
  let i0 = t * 2u;
  if (i0 >= p.n) { return; }
  let r0 = element(i0);
  var r1 = r0;
  if (i0 + 1u < p.n) { r1 = element(i0 + 1u); }
  OUT[t] = bitcast<u32>(vec2<f16>(r0, r1));
#elif ${OUT_U8}
  // One output word (four u8) per invocation.
  let i0 = t * 4u;
  if (i0 >= p.n) { return; }
  var w = 0u;
  for (var j = 0u; j < 4u; j = j + 1u) {
    if (i0 + j < p.n) { w = w | ((element(i0 + j) & 0xFFu) << (8u * j)); }
  }
  OUT[t] = w;
#else
  // One 32-bit element per invocation.
  if (t >= p.n) { return; }
  OUT[t] = element(t);
#endif
}
