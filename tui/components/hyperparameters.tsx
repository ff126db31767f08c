// The settings the run trains with now: live values (changed with keys) first, fixed ones after.
import { Box, Text } from "ink";
import { fit, formatRate, formatSetting } from "../format.js";
import type { Hyperparameters as Settings } from "../snapshot.js";

export interface HyperparametersProps {
  hyper: Settings;
  /** A learning rate asked for that applies from the next step. */
  pendingLearningRate: number | undefined;
  /** The scheduled learning rate of the latest step (warmup and decay applied). */
  scheduledLearningRate: number | undefined;
  /** Rows available; the least important lines go first. */
  rows: number;
  /** Columns for the text. */
  width: number;
}

export function Hyperparameters(props: HyperparametersProps) {
  const { hyper, pendingLearningRate, scheduledLearningRate, rows, width } = props;
  const lines: { label: string; value: string; color?: string }[] = [
    { label: "learning rate", value: formatRate(hyper.learningRate) },
  ];
  if (pendingLearningRate !== undefined) {
    const value = `→ ${formatRate(pendingLearningRate)}`;
    lines.push({ label: "  next step", value, color: "cyan" });
  }
  lines.push(
    { label: "  scheduled", value: formatRate(scheduledLearningRate) },
    { label: "weight decay", value: formatSetting(hyper.weightDecay) },
    { label: "max grad norm", value: formatSetting(hyper.maxGradNorm) },
    {
      label: "eval every",
      value: !hyper.evalEvery ? "epoch end" : `${hyper.evalEvery} steps`,
    },
    { label: "method", value: hyper.method },
    { label: "batch", value: hyper.batch },
  );
  return (
    <Box flexDirection="column">
      {lines.slice(0, rows).map((l) => (
        <Text key={l.label} wrap="truncate">
          <Text dimColor>{l.label.padEnd(14)}</Text>
          <Text color={l.color}>{fit(l.value, width - 14)}</Text>
        </Text>
      ))}
    </Box>
  );
}
