// Fits a run's steps into a chart's columns: the x axis spans the steps so far, one column holds
// the mean of its steps, and validation losses are joined by straight lines between evaluations.
import type { EvalEvent, StepEvent } from "../lib/train/run.js";

export interface ChartSeries {
  /** Mean training loss per column. */
  loss: number[];
  /** Scheduled learning rate at the last step of each column. */
  learningRate: number[];
  /** Validation loss from the first evaluated column on; `start` is that column. */
  validation: { start: number; values: number[] };
}

export function chartSeries(
  steps: readonly StepEvent[],
  evals: readonly EvalEvent[],
  width: number,
): ChartSeries {
  const lastStep = steps.at(-1)?.step ?? 0;
  const columns = Math.max(1, Math.min(width, lastStep));
  const column = (step: number) =>
    Math.min(columns - 1, Math.floor(((Math.max(1, step) - 1) * columns) / Math.max(1, lastStep)));

  const loss = columnMeans(steps.map((s) => [column(s.step), s.loss]), columns);
  const learningRate: number[] = new Array(columns).fill(0);
  for (const s of steps) learningRate[column(s.step)] = s.learningRate;

  const validation = evals.map((e): [number, number] => [column(e.step), e.validationLoss]);
  return { loss, learningRate, validation: interpolate(columnMeans(validation, columns, false)) };
}

/**
 * The mean of the finite values that fall in each column. With `fill`, a column without one
 * repeats its left neighbour (or the first value), so the line stays whole; else it stays NaN.
 */
function columnMeans(points: [number, number][], columns: number, fill = true): number[] {
  const sums = new Array<number>(columns).fill(0);
  const counts = new Array<number>(columns).fill(0);
  for (const [x, value] of points) {
    if (!Number.isFinite(value)) continue;
    sums[x] += value;
    counts[x] += 1;
  }
  const means = sums.map((sum, x) => (counts[x] > 0 ? sum / counts[x] : Number.NaN));
  if (!fill) return means;
  let previous = means.find((m) => !Number.isNaN(m)) ?? 0;
  return means.map((m) => (Number.isNaN(m) ? previous : (previous = m)));
}

/** Straight lines between the known columns, from the first known column to the last. */
function interpolate(values: number[]): { start: number; values: number[] } {
  const known = values.flatMap((v, x) => (Number.isNaN(v) ? [] : [x]));
  if (known.length === 0) return { start: 0, values: [] };
  const out: number[] = [];
  for (let k = 0; k < known.length; k++) {
    const x0 = known[k];
    out.push(values[x0]);
    const x1 = known[k + 1];
    if (x1 === undefined) break;
    for (let x = x0 + 1; x < x1; x++) {
      out.push(values[x0] + ((values[x1] - values[x0]) * (x - x0)) / (x1 - x0));
    }
  }
  return { start: known[0], values: out };
}
