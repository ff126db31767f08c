// The key line at the bottom of the screen.
import { Text } from "ink";
import { Fragment } from "react";
import { KEYS } from "../keys.js";

export function HelpLine() {
  return (
    <Text wrap="truncate">
      {KEYS.map((k, i) => (
        <Fragment key={k.key}>
          {i > 0 ? "  " : ""}
          <Text bold>{k.key}</Text>
          <Text dimColor> {k.short}</Text>
        </Fragment>
      ))}
    </Text>
  );
}
