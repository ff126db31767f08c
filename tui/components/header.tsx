// The top line: what the fine-tune is for, and the state of the run or the work going on.
import { Box, Text } from "ink";
import { fit } from "../format.js";
import type { Snapshot } from "../snapshot.js";

export interface HeaderProps {
  /** The goal from the config; cut to fit. */
  goal: string;
  status: Snapshot["status"];
  /** Work that blocks the next stage, e.g. "evaluating"; shown instead of the status. */
  busy: string | undefined;
  width: number;
}

const BADGES: Record<Snapshot["status"], { text: string; color?: string }> = {
  "not started": { text: "○ not started" },
  running: { text: "● running", color: "green" },
  paused: { text: "‖ paused", color: "yellow" },
  stopped: { text: "■ stopped", color: "yellow" },
  finished: { text: "✔ finished", color: "green" },
  failed: { text: "✘ failed", color: "red" },
};

export function Header({ goal, status, busy, width }: HeaderProps) {
  const badge = busy === undefined ? BADGES[status] : { text: `… ${busy}`, color: "cyan" };
  const title = fit(`tunebook · ${goal}`, width - badge.text.length - 2);
  return (
    <Box width={width} justifyContent="space-between">
      <Text bold>{title}</Text>
      <Text color={badge.color}>{badge.text}</Text>
    </Box>
  );
}
