// A rounded box with its title set in the top border, the frame of every dashboard panel.
import { Box, Text } from "ink";
import type { ReactNode } from "react";

export interface PanelProps {
  title: string;
  /** Outer width, borders included. */
  width: number;
  /** Rows inside the borders. */
  rows: number;
  children?: ReactNode;
}

export function Panel({ title, width, rows, children }: PanelProps) {
  const label = `╭─ ${title} `;
  const top = label + "─".repeat(Math.max(0, width - label.length - 1)) + "╮";
  return (
    <Box flexDirection="column" width={width} flexShrink={0}>
      <Text dimColor>{top.slice(0, width)}</Text>
      <Box
        borderStyle="round"
        borderTop={false}
        borderDimColor
        paddingX={1}
        height={rows + 1}
        flexDirection="column"
        overflow="hidden"
      >
        {children}
      </Box>
    </Box>
  );
}
