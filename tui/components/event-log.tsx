// The last events, newest at the bottom: evaluations, checkpoints, changes, warnings, errors.
// A fixed panel rather than <Static>: in a one-screen dashboard the log must stay in view.
import { Box, Text } from "ink";
import type { LogEntry } from "../describe.js";
import { wrap } from "../format.js";

export interface EventLogProps {
  events: readonly LogEntry[];
  rows: number;
  /** Columns for the text; long entries wrap under their text. */
  width: number;
}

const COLORS: Record<LogEntry["kind"], string | undefined> = {
  eval: "cyan",
  checkpoint: "green",
  change: "magenta",
  warning: "yellow",
  error: "red",
  stage: undefined,
  info: undefined,
  hint: "cyan",
};

const STEP_WIDTH = 6;

export function EventLog({ events, rows, width }: EventLogProps) {
  const lines: { key: string; step: string; text: string; entry: LogEntry }[] = [];
  for (let i = events.length - 1; i >= 0 && lines.length < rows; i--) {
    const e = events[i];
    const parts = wrap(e.text, Math.max(8, width - STEP_WIDTH));
    const step = e.step === null ? "" : String(e.step);
    const entryLines = parts.map((text, j) => ({
      key: `${e.id}.${j}`,
      step: j === 0 ? step.padStart(STEP_WIDTH - 1) + " " : " ".repeat(STEP_WIDTH),
      text,
      entry: e,
    }));
    lines.unshift(...entryLines.slice(-(rows - lines.length)));
  }
  if (lines.length === 0) return <Text dimColor>no events yet</Text>;
  return (
    <Box flexDirection="column">
      {lines.map((l) => (
        <Text key={l.key} wrap="truncate">
          <Text dimColor>{l.step}</Text>
          <Text color={COLORS[l.entry.kind]} dimColor={l.entry.kind === "info"}>{l.text}</Text>
        </Text>
      ))}
    </Box>
  );
}
