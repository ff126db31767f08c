// Learning-rate schedule: linear warmup, then cosine decay to a floor.

export interface ScheduleOptions {
  /** Peak learning rate, reached at the end of warmup. */
  learningRate: number;
  warmupSteps: number;
  totalSteps: number;
  /** The floor as a fraction of the peak, reached at the last step. */
  minLearningRateRatio: number;
}

/** Learning rate for a 0-based optimizer step. */
export function learningRateAt(step: number, o: ScheduleOptions): number {
  if (o.warmupSteps > 0 && step < o.warmupSteps) {
    return (o.learningRate * (step + 1)) / o.warmupSteps;
  }
  const decaySteps = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / decaySteps);
  const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
  const floor = o.minLearningRateRatio;
  return o.learningRate * (floor + (1 - floor) * cosine);
}
