// The short table at the end of scripts/gpu-check.sh: the key rows of each benchmark file in a results folder
// (whatever rows a step managed to write before its time limit).
//   node scripts/gpu-summary.mjs <results folder>
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'gpu-results';
const rows = (suite) => {
  const f = join(dir, `${suite}.jsonl`);
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
};
const num = (v) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)) : '');
const line = (...cells) => console.log(cells.map((c, i) => String(c).padEnd([44, 12, 10, 30][i] ?? 0)).join(' '));

for (const suite of ['core', 'conv', 'segmenter', 'flow']) {
  const rs = rows(suite);
  console.log(`\n${suite}: ${rs.length} rows${rs.length ? '' : ' (none: the step failed or ran out of time; see its .err file)'}`);
  for (const r of rs) {
    if (suite === 'conv' && !(r.bench === 'conv.matmul_ceiling' || r.unit === 'GFLOP/s' || r.bench.startsWith('conv.speedup') || r.bench.startsWith('conv.stack'))) continue;
    const extra = [];
    if (r.fraction_of_local_matmul !== undefined) extra.push(`${num(r.fraction_of_local_matmul)}× matmul`);
    else if (r.fraction_of_matmul !== undefined) extra.push(`${num(r.fraction_of_matmul)}× matmul`);
    if (r.vs_f32 !== undefined) extra.push(`${num(r.vs_f32)}× f32`);
    for (const k of Object.keys(r)) if (k.includes('pytorch')) extra.push(`${k} ${num(r[k])}`);
    line(r.bench, num(r.value), r.unit, [r.variant ?? '', ...extra].filter(Boolean).join(', '));
  }
  if (suite === 'conv' && rs.some((r) => r.bench === 'conv.fwd.input.conv2' && !r.fallback)) {
    // ../shared/spec/anchors.md, measured on an H200: one Conv3d 32→32, 3³, batch 2 of 128³ (the row above is batch 1).
    console.log('PyTorch (cuDNN) on an H200, Conv3d 32→32, 3³, batch 2 of 128³: fp32 29.6 / tf32 92.8 / bf16 135.7 TFLOP/s');
  }
}
