export { Optimizer, Adam, AdamW, SGD, type AdamOptions, type SgdOptions } from './optimizer.js';
export { VesselfmSchedule, ConstantSchedule, applySchedule, type Schedule, type VesselfmScheduleOptions } from './schedule.js';
export { EMA } from './ema.js';
export { clipGradNorm } from './clip.js';
export { LossScaler, type LossScalerOptions, type ScaledStep } from './scaler.js';
