// The progress line: a bar over the run's steps, then step, epoch, tokens/s and time left.
import { ProgressBar } from "@inkjs/ui";
import { Box, Text } from "ink";
import type { StepEvent } from "../../lib/train/run.js";
import { fit, formatSeconds } from "../format.js";
import type { Snapshot } from "../snapshot.js";

export interface ProgressLineProps {
  /** The latest step; undefined before the first. */
  last: StepEvent | undefined;
  totalSteps: number;
  status: Snapshot["status"];
  /** What to say before training starts, e.g. "preparing: tokens". */
  idle: string;
  width: number;
}

export function ProgressLine({ last, totalSteps, status, idle, width }: ProgressLineProps) {
  const step = last?.step ?? 0;
  const eta =
    status === "paused"
      ? "paused"
      : status === "running" && last !== undefined
        ? formatSeconds(last.etaSeconds)
        : "-";
  const stats =
    status === "not started"
      ? ` ${idle}`
      : ` step ${step}/${totalSteps} · epoch ${(last?.epoch ?? 0).toFixed(2)} · ` +
        `${Math.round(last?.tokensPerSecond ?? 0).toLocaleString("en-US")} tok/s · ETA ${eta}`;
  const percent = totalSteps > 0 ? (100 * step) / totalSteps : 0;
  return (
    <Box width={width}>
      {/* One row even while the bar still has the width it measured before a resize. */}
      <Box flexGrow={1} minWidth={4} height={1} overflow="hidden">
        <ProgressBar value={percent} />
      </Box>
      <Box flexShrink={0}>
        <Text>{fit(stats, width - 5)}</Text>
      </Box>
    </Box>
  );
}
