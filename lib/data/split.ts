// Seeded train/validation split: the same seed and data always give the same split.
import { TunebookError } from "../errors.js";
import { mulberry32, shuffled } from "./random.js";

export interface SplitOptions {
  /** Share of examples held out for validation, in [0, 1). */
  validationFraction: number;
  /** Seed of the shuffle that picks the validation examples. */
  seed: number;
}

/** Hold out round(n × validationFraction) examples at random; both parts keep input order. */
export function splitExamples<T>(examples: readonly T[], opts: SplitOptions) {
  const { validationFraction: f, seed } = opts;
  if (!(f >= 0 && f < 1)) {
    throw new TunebookError(`validationFraction ${f} is out of range; use a number in [0, 1)`);
  }
  const n = examples.length;
  const k = Math.round(n * f);
  if (k === n && n > 0) {
    throw new TunebookError(
      `validationFraction ${f} of ${n} examples leaves none to train on; use a smaller fraction`,
    );
  }

  const order = shuffled([...Array(n).keys()], mulberry32(seed));
  const held = new Set(order.slice(0, k));
  const train: T[] = [];
  const validation: T[] = [];
  examples.forEach((ex, i) => (held.has(i) ? validation : train).push(ex));
  return { train, validation };
}
