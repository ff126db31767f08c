// The live chart: training and validation loss, and the learning rate below, over the steps so
// far.
import { Box, Text } from "ink";
import type { EvalEvent, StepEvent } from "../../lib/train/run.js";
import { chartSeries } from "../chart-data.js";
import { fit, formatLoss, formatRate } from "../format.js";
import { AXIS_WIDTH, plotRows, type TextRun } from "../plot.js";

export interface LossChartProps {
  steps: readonly StepEvent[];
  evals: readonly EvalEvent[];
  /** Columns for the chart, axis labels included. */
  width: number;
  /** Rows for the chart: loss, a legend line and the learning rate. */
  rows: number;
}

export function LossChart({ steps, evals, width, rows }: LossChartProps) {
  if (steps.length === 0) {
    return <Text dimColor>{fit("the loss appears here after the first step", width)}</Text>;
  }
  const rateRows = rows >= 14 ? 4 : rows >= 8 ? 3 : 2;
  const lossRows = Math.max(2, rows - rateRows - 1);
  const series = chartSeries(steps, evals, width - AXIS_WIDTH);
  const values = [...series.loss, ...series.validation.values];
  // Two decimals cannot tell the axis labels of a flat stretch apart.
  const decimals = Math.max(...values) - Math.min(...values) < 0.2 ? 3 : 2;
  const loss = plotRows(
    [
      { values: series.loss, color: "cyan" },
      { values: series.validation.values, start: series.validation.start, color: "yellow" },
    ],
    { height: lossRows, format: (x) => x.toFixed(decimals) },
  );
  const rate = plotRows([{ values: series.learningRate, color: "magenta" }], {
    height: rateRows,
    format: formatRate,
  });
  const last = steps[steps.length - 1];
  const lastEval = evals.at(-1);
  return (
    <Box flexDirection="column">
      {textRows(loss, "loss")}
      <Text wrap="truncate">
        <Text color="cyan">─ train {formatLoss(last.loss)}</Text>{" "}
        <Text color="yellow">─ validation {formatLoss(lastEval?.validationLoss)}</Text>{" "}
        <Text color="magenta">─ lr {formatRate(last.learningRate)}</Text>
      </Text>
      {textRows(rate, "lr")}
    </Box>
  );
}

/** One Ink line per chart row, each run in its own style. */
function textRows(rows: TextRun[][], prefix: string) {
  return rows.map((runs, r) => (
    <Text key={`${prefix}${r}`} wrap="truncate">
      {runs.map((run, i) => (
        <Text key={i} color={run.color} dimColor={run.dim}>
          {run.text}
        </Text>
      ))}
    </Text>
  ));
}
