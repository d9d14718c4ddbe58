// `vesselfm demo` (what `npm start` runs): the whole idea of vesselFM in a few minutes on any adapter — generate
// domain-randomised samples on the GPU from procedural vessel trees (no external data), train a small DynUNet on
// them, then segment a real OCTA volume it has never seen (zero-shot) and score it against its manual label.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { VesselError } from '../src/gpu/errors.js';
import { PairSource, type VolumePair } from '../src/data/datasets.js';
import { MouldBank } from '../src/data/drand/moulds.js';
import { labelledGrid, mipImage, upscale } from '../src/data/drand/preview.js';
import { segmentVolume } from '../src/eval/inference.js';
import { clDice, dice } from '../src/eval/metrics.js';
import { writePng } from '../src/io/files.js';
import { previewStrip } from '../src/io/png.js';
import { makeVolume, readVolume, type Volume } from '../src/io/volume.js';
import { Trainer, freshDynUNet } from '../src/train/trainer.js';
import type { Image8 } from '../src/io/png.js';
import { generateHost, type DrandRun } from './drand.js';
import { addDeviceOptions, engineFrom, jsonLine, type DeviceOptions, int } from './common.js';

interface DemoCliOptions extends DeviceOptions {
  out: string;
  steps?: string;
  size?: string;
  samples?: string;
  seed: string;
  lr: string;
  quick?: boolean;
  image: string;
  label: string;
  json?: boolean;
}

/** A progress display: a bar on a terminal, else a line every `every` items. */
function progress(label: string, total: number, quiet: boolean) {
  const tty = !quiet && process.stderr.isTTY;
  const bar = new cliProgress.SingleBar(
    { format: `${label} |{bar}| {value}/{total} {info}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  if (tty) bar.start(total, 0, { info: '' });
  const every = Math.max(1, Math.ceil(total / 5));
  return {
    update(v: number, info = '') {
      if (tty) bar.update(v, { info });
      else if (!quiet && (v % every === 0 || v === total)) process.stderr.write(`${label} ${v}/${total} ${info}\n`);
    },
    stop() {
      if (tty) bar.stop();
    },
  };
}

const FIXTURE = 'test/fixtures/data/octa';

/** The central region of at most `n` voxels per axis. */
function centreCrop(v: Volume, n: number): Volume {
  const [d, h, w] = v.shape;
  const s: [number, number, number] = [Math.min(d, n), Math.min(h, n), Math.min(w, n)];
  const o = [d, h, w].map((L, a) => Math.floor((L - s[a]) / 2));
  const out = new Float32Array(s[0] * s[1] * s[2]);
  for (let z = 0; z < s[0]; z++)
    for (let y = 0; y < s[1]; y++)
      for (let x = 0; x < s[2]; x++) out[(z * s[1] + y) * s[2] + x] = v.data[((z + o[0]) * h + y + o[1]) * w + x + o[2]];
  return makeVolume(out, s);
}

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description('generate D_drand samples, train a small DynUNet on them, segment a real OCTA volume zero-shot (Dice, clDice)')
    .option('--out <dir>', 'output folder (samples sheet, overlay PNG)', 'out/demo')
    .option('--steps <n>', 'training steps (default 60; --quick 6)')
    .option('--size <n>', 'edge of the generated samples (default 64; --quick 32)')
    .option('--samples <n>', 'D_drand samples to generate (default 8; --quick 3)')
    .option('--seed <s>', 'seed of the data and the network', '1')
    .option('--lr <x>', 'AdamW learning rate (constant)', '5e-3')
    .option('--image <file>', 'real volume to segment zero-shot', `${FIXTURE}/OCTA-Data.tif`)
    .option('--label <file>', 'its vessel label', `${FIXTURE}/OCTA-Labels.tif`)
    .option('--quick', 'a ~1-minute version (tiny samples and a handful of steps)')
    .option('--json', 'print one JSON summary line at the end');
  addDeviceOptions(cmd);
  cmd.action(async (o: DemoCliOptions) => {
    const quick = !!o.quick;
    const size = int(o.size ?? (quick ? '32' : '64'), '--size', 16);
    const steps = int(o.steps ?? (quick ? '6' : '60'), '--steps', 1);
    const count = int(o.samples ?? (quick ? '3' : '8'), '--samples', 1);
    const seed = int(o.seed, '--seed');
    const patch = 32;
    const lr = Number(o.lr);
    if (!(lr > 0)) throw new VesselError(`--lr must be a positive number, got "${o.lr}"`);
    if (size < patch) throw new VesselError(`--size must be at least the ${patch}³ training patch, got ${size}`);
    const say = (s: string) => {
      if (!o.json) process.stdout.write(s + '\n');
    };
    let image = readVolume(resolve(o.image));
    let label = readVolume(resolve(o.label));
    if (image.shape.join() !== label.shape.join()) throw new VesselError(`demo: image [${image.shape.join(', ')}] and label [${label.shape.join(', ')}] differ in shape`);
    // --quick segments the central 64³ (at most) of the volume: one window instead of a dozen.
    if (quick) {
      image = centreCrop(image, 64);
      label = centreCrop(label, 64);
    }
    mkdirSync(o.out, { recursive: true });
    const engine = await engineFrom(o);
    const t0 = performance.now();

    // 1. D_drand on the GPU from procedural moulds.
    say(`1/3 generating ${count} D_drand samples (${size}³, procedural vessel trees) on ${engine.gpu.info.description || engine.gpu.info.device || 'the GPU'}`);
    const bank = new MouldBank(engine, { kind: 'procedural' }, size);
    const run: DrandRun = { engine, bank, seed, size, options: { normStride: 4 } };
    const pairs: VolumePair[] = [];
    const panels: { image: Image8; label: string }[] = [];
    const pg = progress('generate', count, !!o.json);
    const tg = performance.now();
    for (let i = 0; i < count; i++) {
      const s = await generateHost(run, i);
      pairs.push({ name: `drand_${i}`, shape: [size, size, size], image: s.image, label: s.mask });
      const f = Math.max(1, Math.round(96 / size));
      panels.push({ image: upscale(mipImage(s.image, [size, size, size]), f), label: `${i} img` });
      panels.push({ image: upscale(mipImage(s.mask, [size, size, size], [0, 1]), f), label: `${i} mask` });
      pg.update(i + 1, `${((i + 1) / ((performance.now() - tg) / 1000)).toFixed(2)} samples/s`);
    }
    pg.stop();
    const genSeconds = (performance.now() - tg) / 1000;
    bank.dispose();
    const sheet = join(o.out, 'drand_samples.png');
    writePng(sheet, labelledGrid(panels, 8));

    // 2. Train a small DynUNet on them.
    const filters = [4, 8, 16, 32];
    say(`2/3 training a DynUNet (filters ${filters.join(',')}) for ${steps} steps on ${patch}³ patches`);
    const net = freshDynUNet(engine, filters, seed);
    const trainer = Trainer.start(engine, net, [PairSource.fromArrays('drand', pairs)], [1], {
      patch: [patch, patch, patch],
      batch: 2,
      lr,
      weightDecay: 0.01,
      schedule: 'constant',
      seed,
      augment: false,
      normalize: 'none',
    });
    const pt = progress('train', steps, !!o.json);
    const tt = performance.now();
    let loss = NaN;
    for (let s = 0; s < steps; s++) {
      const r = await trainer.trainStep();
      loss = r.loss;
      pt.update(r.step, `loss ${r.loss.toFixed(4)}`);
    }
    pt.stop();
    const trainSeconds = (performance.now() - tt) / 1000;
    trainer.dispose();

    // 3. Zero-shot segmentation of the real volume.
    say(`3/3 segmenting ${o.image} [${image.shape.join(', ')}] zero-shot (sliding window)`);
    net.eval();
    let pi: ReturnType<typeof progress> | null = null;
    const ti = performance.now();
    const seg = await segmentVolume(net, image.data, image.shape, {
      patch: 64,
      overlap: 0.25,
      onProgress: (d, t) => {
        pi ??= progress('segment', t, !!o.json);
        pi.update(d, 'windows');
      },
    });
    (pi as ReturnType<typeof progress> | null)?.stop();
    const segSeconds = (performance.now() - ti) / 1000;
    const lab = new Uint8Array(label.data.length);
    for (let i = 0; i < lab.length; i++) lab[i] = label.data[i] > 0 ? 1 : 0;
    const d = dice(seg.mask, lab);
    const cl = clDice(seg.mask, lab, image.shape).clDice;
    const overlayPath = join(o.out, 'octa_overlay.png');
    writePng(overlayPath, previewStrip({ shape: image.shape, image: image.data, label: lab, prediction: seg.mask }));
    net.dispose();
    const total = (performance.now() - t0) / 1000;
    const res = {
      dice: d,
      clDice: cl,
      samples: count,
      size,
      steps,
      lastLoss: loss,
      samplesPerSecond: count / genSeconds,
      secondsPerStep: trainSeconds / steps,
      segmentSeconds: segSeconds,
      seconds: total,
      overlay: overlayPath,
      samplesSheet: sheet,
    };
    if (o.json) jsonLine(res);
    else {
      say(`zero-shot on ${o.image}: Dice ${d.toFixed(4)}  clDice ${cl.toFixed(4)}`);
      say(
        `generation ${res.samplesPerSecond.toFixed(2)} samples/s, training ${(res.secondsPerStep * 1000).toFixed(0)} ms/step (last loss ${loss.toFixed(4)}), ` +
          `segmentation ${segSeconds.toFixed(1)} s; total ${total.toFixed(0)} s`,
      );
      say(`overlay (image | label | prediction | overlay): ${overlayPath}; samples: ${sheet}`);
      if (!seg.mask.some((v) => v !== 0)) say('the network predicted no vessel at all: a few minutes of training are seed-sensitive; try more --steps or another --seed');
    }
  });
}
