// The `vesselfm` command line. Each command lives in its own file and registers itself here.
import { Command } from 'commander';
import { registerInfo } from './info.js';
import { registerConvert } from './convert.js';
import { registerEval } from './eval.js';
import { registerBench } from './bench.js';
import { registerTrain } from './train.js';
import { registerSegment } from './segment.js';
import { registerDrand } from './drand.js';
import { registerDemo } from './demo.js';
import { registerFlow } from './flow.js';
import { runMain } from './common.js';

const program = new Command();
program.name('vesselfm').description('vesselFM on WebGPU: 3D vessel segmentation, training and data generation with hand-written WGSL kernels');
program.showHelpAfterError();
registerInfo(program);
registerConvert(program);
registerEval(program);
registerBench(program);
registerTrain(program);
registerSegment(program);
registerDrand(program);
registerDemo(program);
registerFlow(program);

await runMain(program);
