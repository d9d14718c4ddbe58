// Nearest and trilinear resampling of x [planes, D, H, W] → y [planes, D', H', W'] (PyTorch F.interpolate with
// align_corners=False), driven by per-axis tables built on the CPU (tab, u32 words; weights are f32 bits):
//   forward table of an axis, per output index o: (i0, i1, λ1) — y = Σ over the 8 corners of Π λ · x[i]
//   backward table of an axis (CSR), per input index i: rows [ptr[i], ptr[i+1]) of (o, λ) pairs, the outputs that
//   read input i and with what weight — so the gradient is a gather (no atomics): dx[i] = Σ Π λ · dy[o]
// F16: src and dst are f16 (packed two to a u32 word); values are read into f32, interpolated in f32 and rounded to
// f16 once, and each invocation writes one whole word (two elements), so no two invocations share a word.
#if ${F16}
enable f16;
#endif
struct Params { n: u32, di: u32, hi: u32, wi: u32, do_: u32, ho: u32, wo: u32, fd: u32, fh: u32, fw: u32, pd: u32, ph: u32, pw: u32, ed: u32, eh: u32, ew: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tab: array<u32>;
#if ${F16}
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
fn rd(j: u32) -> f32 { return f32(bitcast<vec2<f16>>(src[j >> 1u])[j & 1u]); }
// Round to f16; beyond the f16 range → ±inf (a plain conversion leaves it undefined), so overflow stays visible.
fn to_f16(a: f32) -> f16 {
  let big = f16(65504.0);
  if (abs(a) >= 65520.0) { return select(big, -big, a < 0.0) * f16(2.0); }
  return f16(a);
}
#else
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
fn rd(j: u32) -> f32 { return src[j]; }
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
#if ${F16}
  let i0 = 2u * t;
  if (i0 >= p.n) { return; }
  let r0 = value(i0);
  var r1 = 0.0;
  if (i0 + 1u < p.n) { r1 = value(i0 + 1u); }
  dst[t] = bitcast<u32>(vec2<f16>(to_f16(r0), to_f16(r1)));
#else
  if (t >= p.n) { return; }
  dst[t] = value(t);
#endif
}

fn value(i: u32) -> f32 {
#if ${GRAD}
  // i indexes the input volume; src = dy (output sized), dst = dx
  let x = i % p.wi;
  let y = (i / p.wi) % p.hi;
  let z = (i / (p.wi * p.hi)) % p.di;
  let plane = i / (p.wi * p.hi * p.di);
  let ob = plane * p.do_ * p.ho * p.wo;
  var s = 0.0;
  for (var a = tab[p.pd + z]; a < tab[p.pd + z + 1u]; a++) {
    let od = tab[p.ed + 2u * a];
    let wd = bitcast<f32>(tab[p.ed + 2u * a + 1u]);
    for (var b = tab[p.ph + y]; b < tab[p.ph + y + 1u]; b++) {
      let oh = tab[p.eh + 2u * b];
      let wh = wd * bitcast<f32>(tab[p.eh + 2u * b + 1u]);
      for (var c = tab[p.pw + x]; c < tab[p.pw + x + 1u]; c++) {
        let ow = tab[p.ew + 2u * c];
        s += wh * bitcast<f32>(tab[p.ew + 2u * c + 1u]) * rd(ob + (od * p.ho + oh) * p.wo + ow);
      }
    }
  }
  return s;
#else
  let x = i % p.wo;
  let y = (i / p.wo) % p.ho;
  let z = (i / (p.wo * p.ho)) % p.do_;
  let plane = i / (p.wo * p.ho * p.do_);
  let ib = plane * p.di * p.hi * p.wi;
  let d0 = tab[p.fd + 3u * z];
  let d1 = tab[p.fd + 3u * z + 1u];
  let ld = bitcast<f32>(tab[p.fd + 3u * z + 2u]);
  let h0 = tab[p.fh + 3u * y];
  let h1 = tab[p.fh + 3u * y + 1u];
  let lh = bitcast<f32>(tab[p.fh + 3u * y + 2u]);
  let w0 = tab[p.fw + 3u * x];
  let w1 = tab[p.fw + 3u * x + 1u];
  let lw = bitcast<f32>(tab[p.fw + 3u * x + 2u]);
#if ${NEAREST}
  return rd(ib + (d0 * p.hi + h0) * p.wi + w0);
#else
  let c00 = (1.0 - lw) * rd(ib + (d0 * p.hi + h0) * p.wi + w0) + lw * rd(ib + (d0 * p.hi + h0) * p.wi + w1);
  let c01 = (1.0 - lw) * rd(ib + (d0 * p.hi + h1) * p.wi + w0) + lw * rd(ib + (d0 * p.hi + h1) * p.wi + w1);
  let c10 = (1.0 - lw) * rd(ib + (d1 * p.hi + h0) * p.wi + w0) + lw * rd(ib + (d1 * p.hi + h0) * p.wi + w1);
  let c11 = (1.0 - lw) * rd(ib + (d1 * p.hi + h1) * p.wi + w0) + lw * rd(ib + (d1 * p.hi + h1) * p.wi + w1);
  return (1.0 - ld) * ((1.0 - lh) * c00 + lh * c01) + ld * ((1.0 - lh) * c10 + lh * c11);
#endif
#endif
}
