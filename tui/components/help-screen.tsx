// The help shown on `?`: every key and what it does; any key closes it.
import { Box, Text } from "ink";
import { KEYS } from "../keys.js";
import { Panel } from "./panel.js";

export interface HelpScreenProps {
  width: number;
  /** Rows inside the panel. */
  rows: number;
}

export function HelpScreen({ width, rows }: HelpScreenProps) {
  return (
    <Panel title="keys" width={width} rows={rows}>
      <Box flexDirection="column">
        {KEYS.map((k) => (
          <Text key={k.key} wrap="truncate">
            <Text bold>{`  ${k.key}   `}</Text>
            {k.help}
          </Text>
        ))}
        <Text> </Text>
        <Text dimColor wrap="truncate">
          Every change lands in the run history. Any key closes this help.
        </Text>
      </Box>
    </Panel>
  );
}
