// The stages of a fine-tune, goal to export, one a line with its state and a short result.
import { Box, Text } from "ink";
import { fit } from "../format.js";
import type { StageName, StageState, StageView } from "../snapshot.js";

export interface StagesProps {
  stages: readonly StageView[];
  /** The stage the workflow is at; drawn bold. */
  current: StageName;
  /** Columns for the text. */
  width: number;
}

const MARKS: Record<StageState, { mark: string; color?: string; dim?: boolean }> = {
  waiting: { mark: "·", dim: true },
  ready: { mark: "›", color: "cyan" },
  working: { mark: "▶", color: "cyan" },
  paused: { mark: "‖", color: "yellow" },
  done: { mark: "✔", color: "green" },
  stopped: { mark: "■", color: "yellow" },
  skipped: { mark: "–", dim: true },
  failed: { mark: "✘", color: "red" },
};

export function Stages({ stages, current, width }: StagesProps) {
  return (
    <Box flexDirection="column">
      {stages.map((s) => {
        const m = MARKS[s.state];
        return (
          <Text key={s.name} wrap="truncate">
            <Text color={m.color} dimColor={m.dim}>{m.mark} </Text>
            <Text bold={s.name === current} dimColor={m.dim}>{s.name.padEnd(9)}</Text>
            <Text dimColor>{fit(s.detail, width - 11)}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
