// Reductions over the middle axis of an (outer O, reduce R, inner I) view of a contiguous tensor.
//
// The reduce axis is cut into segments of C elements (S = ceil(R / C) per row); segment k = o * S + s. A pass
// reduces every segment to one state per (k, i); when S = 1 the states are final and are written as values,
// otherwise they are partial states that the next pass reduces the same way (with R = S). Two layouts:
//   WGTREE (I = 1): one workgroup per segment; invocations stride through it, then the workgroup combines its
//     states: a subgroup butterfly and one merge per subgroup when SUBGROUPS is set, otherwise two levels of
//     ROOT-way merges in workgroup memory (two barriers: barriers are what a CPU driver pays for).
//   otherwise: one invocation per (k, i), reading its segment serially (adjacent invocations read adjacent i).
// States carry (v, m, n, i): SUM v = sum; MAX/MIN v = value, n = count, i = index along the reduce axis; VAR is
// Welford/Chan: n = count, v = mean, m = sum of squared deviations. n = 0 marks an empty state.
// Specialised by op and layout only; the input kind (raw f32, f16, u8 or partial states), whether the pass is
// final, and what a final pass writes (value or index) are uniforms, so one pipeline serves every pass.
// Inputs and outputs are bound from element in_base / out_base (aligned sub-ranges of large tensors).
#if ${SUBGROUPS}
enable subgroups;
#endif

struct Params {
  R: u32, I: u32, C: u32, S: u32, k0: u32, nk: u32, in_base: u32, out_base: u32,
  divisor: f32, ddof: f32, in_kind: u32, final_pass: u32, write_index: u32,
}
struct St { v: f32, m: f32, n: u32, i: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inp: array<u32>;
@group(0) @binding(2) var<storage, read_write> outp: array<u32>;

const IN_F32 = 0u;
const IN_F16 = 1u;
const IN_U8 = 2u;
const IN_STATES = 3u;

fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7FFFFFFFu) > 0x7F800000u; }

// The state of one input item at global index g, position r along the reduce axis.
fn load(g: u32, r: u32) -> St {
  let l = g - p.in_base;
  var x: f32;
  switch (p.in_kind) {
    case IN_F32: { x = bitcast<f32>(inp[l]); }
    case IN_F16: { x = unpack2x16float(inp[l >> 1u])[l & 1u]; }
    case IN_U8: { x = f32((inp[l >> 2u] >> ((l & 3u) * 8u)) & 0xFFu); }
    default: { // IN_STATES
      let b = l * 4u;
      return St(bitcast<f32>(inp[b]), bitcast<f32>(inp[b + 1u]), inp[b + 2u], inp[b + 3u]);
    }
  }
  return St(x, 0.0, 1u, r);
}

fn merge(a: St, b: St) -> St {
#if ${SUM}
  return St(a.v + b.v, 0.0, a.n + b.n, 0u);
#else
  if (a.n == 0u) { return b; }
  if (b.n == 0u) { return a; }
#if ${VAR}
  let n = a.n + b.n;
  let fa = f32(a.n);
  let fb = f32(b.n);
  let fn_ = f32(n);
  let d = b.v - a.v;
  return St(a.v + d * (fb / fn_), a.m + b.m + d * d * (fa * fb / fn_), n, 0u);
#else
  // MAX/MIN/ARGMAX/ARGMIN: NaN wins (the first NaN for the arg variants), ties keep the smaller index.
  let an = is_nan(a.v);
  let bn = is_nan(b.v);
  if (an && bn) { if (a.i <= b.i) { return a; } return b; }
  if (an) { return a; }
  if (bn) { return b; }
#if ${LARGER}
  let take_b = b.v > a.v || (b.v == a.v && b.i < a.i);
#else
  let take_b = b.v < a.v || (b.v == a.v && b.i < a.i);
#endif
  if (take_b) { return b; }
  return a;
#endif
#endif
}

fn store(idx: u32, s: St) {
  let l = idx - p.out_base;
  if (p.final_pass == 0u) {
    let b = l * 4u;
    outp[b] = bitcast<u32>(s.v);
    outp[b + 1u] = bitcast<u32>(s.m);
    outp[b + 2u] = s.n;
    outp[b + 3u] = s.i;
  } else if (p.write_index != 0u) {
    outp[l] = s.i;
  } else {
#if ${VAR}
    outp[l] = bitcast<u32>(s.m / (f32(s.n) - p.ddof));
#else
    outp[l] = bitcast<u32>(s.v / p.divisor);
#endif
  }
}

#if ${WGTREE}
var<workgroup> sh: array<St, ${WG}>;
var<workgroup> sh2: array<St, ${ROOT}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32
#if ${SUBGROUPS}
  , @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_invocation_id) sg_lane: u32
#endif
) {
  // Workgroup-uniform: every invocation of a workgroup reaches the barriers below.
  let w = wid.y * nwg.x + wid.x;
  let k = p.k0 + min(w, p.nk - 1u);
  let o = k / p.S;
  let s = k - o * p.S;
  let r0 = s * p.C;
  let r1 = min(p.R, r0 + p.C);
  var acc = St(0.0, 0.0, 0u, 0u);
  for (var r = r0 + lid; r < r1; r = r + ${WG}u) {
    acc = merge(acc, load(o * p.R + r, r));
  }
#if ${SUBGROUPS}
  for (var off = sg_size >> 1u; off > 0u; off = off >> 1u) {
    let other = St(subgroupShuffleXor(acc.v, off), subgroupShuffleXor(acc.m, off), subgroupShuffleXor(acc.n, off), subgroupShuffleXor(acc.i, off));
    acc = merge(acc, other);
  }
  // Subgroups of a one-dimensional workgroup are runs of consecutive local indices.
  if (sg_lane == 0u) { sh[lid / sg_size] = acc; }
  workgroupBarrier();
  if (lid == 0u && w < p.nk) {
    var t = sh[0];
    let groups = ${WG}u / sg_size;
    for (var j = 1u; j < groups; j = j + 1u) { t = merge(t, sh[j]); }
    store(k, t);
  }
#else
  sh[lid] = acc;
  workgroupBarrier();
  if (lid < ${ROOT}u) {
    var t = sh[lid * ${ROOT}u];
    for (var j = 1u; j < ${ROOT}u; j = j + 1u) { t = merge(t, sh[lid * ${ROOT}u + j]); }
    sh2[lid] = t;
  }
  workgroupBarrier();
  if (lid == 0u && w < p.nk) {
    var t = sh2[0];
    for (var j = 1u; j < ${ROOT}u; j = j + 1u) { t = merge(t, sh2[j]); }
    store(k, t);
  }
#endif
}
#else
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (t >= p.nk * p.I) { return; }
  let kk = t / p.I;
  let i = t - kk * p.I;
  let k = p.k0 + kk;
  let o = k / p.S;
  let s = k - o * p.S;
  let r0 = s * p.C;
  let r1 = min(p.R, r0 + p.C);
  var acc = St(0.0, 0.0, 0u, 0u);
  for (var r = r0; r < r1; r = r + 1u) {
    acc = merge(acc, load((o * p.R + r) * p.I + i, r));
  }
  store(k * p.I + i, acc);
}
#endif
