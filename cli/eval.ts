// `vesselfm eval <prediction> <label>`: Dice, clDice, Betti-0/1 errors, precision and recall of a segmentation
// against a label, from any volume format src/io reads. CPU only: no GPU is needed.
import type { Command } from 'commander';
import { VesselError } from '../src/gpu/errors.js';
import { checkFinite, readVolume, type Volume } from '../src/io/volume.js';
import { assertSameShape, binarize, evaluateSegmentation } from '../src/eval/metrics.js';

interface EvalOptions {
  json?: boolean;
  threshold?: string;
}

/** How the prediction is turned into a mask: an explicit threshold, 0.5 for a probability map, else non-zero. */
function predictionThreshold(vol: Volume, given: string | undefined): number | undefined {
  if (given !== undefined) {
    const t = Number(given);
    if (given.trim() === '' || !Number.isFinite(t)) throw new VesselError(`--threshold must be a number, got "${given}"`);
    return t;
  }
  if (vol.dtype !== 'float32' && vol.dtype !== 'float64') return undefined;
  // A float volume with values other than 0 and 1 is a probability map: vesselFM's metrics use ≥ 0.5.
  const d = vol.data;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0 && d[i] !== 1) return 0.5;
  return undefined;
}

function describe(vol: Volume): string {
  return `[${vol.shape.join(', ')}] ${vol.dtype}`;
}

function fmt(v: number): string {
  return v.toFixed(4);
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('score a segmentation against a label: Dice, clDice, Betti-0/1 errors, precision, recall')
    .argument('<prediction>', 'predicted mask or probability map (.nii/.nii.gz, .tif, .mha/.mhd, .npy, .npz[:array])')
    .argument('<label>', 'ground-truth mask (any non-zero voxel is vessel)')
    .option('--json', 'print one JSON object')
    .option(
      '--threshold <t>',
      'prediction voxels ≥ t are vessel (default: non-zero; 0.5 for a float map with values other than 0 and 1)',
    )
    .addHelpText(
      'after',
      '\nclDice uses Lee–Kashyap–Chu 3D skeletons; Betti numbers use 26-connected foreground and 6-connected\n' +
        'background (β0 components, β1 loops, β2 cavities). Both masks empty scores 1 (errors 0).',
    )
    .action((predPath: string, labelPath: string, opts: EvalOptions) => {
      const t0 = performance.now();
      const pred = readVolume(predPath);
      const label = readVolume(labelPath);
      assertSameShape(pred.shape, label.shape, `prediction ${predPath}`, `label ${labelPath}`);
      checkFinite(pred, predPath);
      checkFinite(label, labelPath);
      const threshold = predictionThreshold(pred, opts.threshold);
      const status = (s: string): void => {
        if (!opts.json && process.stderr.isTTY) process.stderr.write(`\r\x1b[K${s}`);
      };
      status('binarising…');
      const p = binarize(pred.data, threshold);
      const l = binarize(label.data);
      status('skeletons and Betti numbers…');
      const m = evaluateSegmentation(p, l, pred.shape);
      status('');
      const seconds = (performance.now() - t0) / 1000;
      if (opts.json) {
        process.stdout.write(
          JSON.stringify({
            prediction: predPath,
            label: labelPath,
            shape: pred.shape,
            threshold: threshold ?? null,
            dice: m.dice,
            clDice: m.clDice,
            betti0Error: m.betti0Error,
            betti1Error: m.betti1Error,
            precision: m.precision,
            recall: m.recall,
            jaccard: m.jaccard,
            specificity: m.specificity,
            accuracy: m.accuracy,
            tprec: m.tprec,
            tsens: m.tsens,
            tp: m.tp,
            fp: m.fp,
            fn: m.fn,
            tn: m.tn,
            predictionBetti: m.predictionBetti,
            labelBetti: m.labelBetti,
            seconds,
          }) + '\n',
        );
        return;
      }
      const pb = m.predictionBetti;
      const lb = m.labelBetti;
      const rule = threshold === undefined ? 'non-zero = vessel' : `≥ ${threshold} = vessel`;
      process.stdout.write(
        [
          `prediction     ${predPath}  ${describe(pred)}  (${rule}; ${m.tp + m.fp} voxels)`,
          `label          ${labelPath}  ${describe(label)}  (non-zero = vessel; ${m.tp + m.fn} voxels)`,
          `Dice           ${fmt(m.dice)}`,
          `clDice         ${fmt(m.clDice)}  (Tprec ${fmt(m.tprec)}, Tsens ${fmt(m.tsens)})`,
          `Betti-0 error  ${m.betti0Error}  (components: prediction ${pb.b0}, label ${lb.b0})`,
          `Betti-1 error  ${m.betti1Error}  (loops: prediction ${pb.b1}, label ${lb.b1})`,
          `precision      ${fmt(m.precision)}`,
          `recall         ${fmt(m.recall)}`,
          `(${seconds.toFixed(1)} s)`,
        ].join('\n') + '\n',
      );
    });
}
