// Batched 1D FFT of power-of-two length N along one axis of a complex volume (interleaved re/im f32), done
// entirely in workgroup memory: each workgroup loads L whole lines, runs Stockham autosort stages (one radix-2
// stage first when log2 N is odd, then radix-4 stages) and stores the lines back in place, scaled.
//
// Line l of the volume: outer = l / inner, i = l % inner; element j sits at outer * N * inner + i + j * inner
// (inner = product of the dims after the axis, i.e. the element stride). A Stockham stage with sub-transform length
// ns reads v[t] = x[j + t N/R], multiplies by the twiddles w^(k t) with k = j mod ns and w = exp(sign 2 pi i / (ns R)),
// takes an R-point DFT and writes y[(j / ns) ns R + k + t ns]. Reads and writes of a stage are separated by a
// barrier, so one workgroup buffer suffices (E complex values, E * 8 bytes).
struct Params {
  lines: u32,   // number of lines in the volume
  inner: u32,   // element stride of the axis
  sign: f32,    // -1 forward, +1 inverse
  scale: f32,   // multiplies the result (1 forward, 1/N inverse)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> data: array<vec2f>;
@group(0) @binding(2) var<storage, read> tw: array<vec2f>;

const N: u32 = ${N}u;
const L: u32 = ${L}u;
const E: u32 = ${E}u;
const WG: u32 = ${WG}u;
const PER: u32 = ${PER}u;
// N / 4 (at least 1, so that the radix-4 code of an N = 2 variant, which never runs, still compiles).
const N4: u32 = ${N4}u;
var<workgroup> buf: array<vec2f, E>;

fn cmul(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// exp(sign 2 pi i m / M) for M a power of two dividing N, m < M: from the table of (cos, sin)(2 pi q / N).
fn twiddle(m: u32, M: u32) -> vec2f {
  let c = tw[m * (N / M)];
  return vec2f(c.x, p.sign * c.y);
}

fn line_base(line: u32) -> u32 {
  return (line / p.inner) * N * p.inner + line % p.inner;
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let line0 = (wid.y * nwg.x + wid.x) * L;
  // Load: with a unit stride walk along lines, otherwise across lines so neighbouring threads read neighbours.
  for (var e = lid; e < E; e += WG) {
    var l = e / N;
    var j = e % N;
    if (p.inner != 1u) {
      l = e % L;
      j = e / L;
    }
    let line = line0 + l;
    if (line < p.lines) {
      buf[l * N + j] = data[line_base(line) + j * p.inner];
    }
  }
  workgroupBarrier();

  var v: array<vec2f, ${REGS}>;
  var ns = 1u;
#if ${RADIX2}
  // One radix-2 stage (ns = 1, no twiddles): 2 PER butterflies per thread.
  for (var b = 0u; b < 2u * PER; b++) {
    let q = lid + b * WG;
    let off = (q / (N / 2u)) * N;
    let j = q % (N / 2u);
    v[2u * b] = buf[off + j];
    v[2u * b + 1u] = buf[off + j + N / 2u];
  }
  workgroupBarrier();
  for (var b = 0u; b < 2u * PER; b++) {
    let q = lid + b * WG;
    let off = (q / (N / 2u)) * N;
    let j = q % (N / 2u);
    let a0 = v[2u * b];
    let a1 = v[2u * b + 1u];
    buf[off + 2u * j] = a0 + a1;
    buf[off + 2u * j + 1u] = a0 - a1;
  }
  workgroupBarrier();
  ns = 2u;
#endif
  for (; ns < N; ns *= 4u) {
    for (var b = 0u; b < PER; b++) {
      let q = lid + b * WG;
      let off = (q / (N4)) * N;
      let j = q % (N4);
      let k = j % ns;
      v[4u * b] = buf[off + j];
      v[4u * b + 1u] = cmul(buf[off + j + N4], twiddle(k, 4u * ns));
      v[4u * b + 2u] = cmul(buf[off + j + 2u * N4], twiddle(2u * k, 4u * ns));
      v[4u * b + 3u] = cmul(buf[off + j + 3u * N4], twiddle(3u * k, 4u * ns));
    }
    workgroupBarrier();
    for (var b = 0u; b < PER; b++) {
      let q = lid + b * WG;
      let off = (q / (N4)) * N;
      let j = q % (N4);
      let k = j % ns;
      let a0 = v[4u * b];
      let a1 = v[4u * b + 1u];
      let a2 = v[4u * b + 2u];
      let a3 = v[4u * b + 3u];
      let s02 = a0 + a2;
      let d02 = a0 - a2;
      let s13 = a1 + a3;
      let d13 = a1 - a3;
      // w d13 with w = sign i: sign (-y, x)
      let wd = p.sign * vec2f(-d13.y, d13.x);
      let o = off + (j / ns) * ns * 4u + k;
      buf[o] = s02 + s13;
      buf[o + ns] = d02 + wd;
      buf[o + 2u * ns] = s02 - s13;
      buf[o + 3u * ns] = d02 - wd;
    }
    workgroupBarrier();
  }

  for (var e = lid; e < E; e += WG) {
    var l = e / N;
    var j = e % N;
    if (p.inner != 1u) {
      l = e % L;
      j = e / L;
    }
    let line = line0 + l;
    if (line < p.lines) {
      data[line_base(line) + j * p.inner] = buf[l * N + j] * p.scale;
    }
  }
}
