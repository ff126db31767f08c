// The question asked on `q` when trained steps would be lost.
import { Text } from "ink";

export interface QuitPromptProps {
  /** Steps trained since the last checkpoint or export. */
  unsavedSteps: number;
}

export function QuitPrompt({ unsavedSteps }: QuitPromptProps) {
  return (
    <Text wrap="truncate">
      <Text color="yellow" bold>Quit? </Text>
      {`${unsavedSteps} trained steps are not saved (c checkpoints). `}
      <Text bold>y</Text> quit · <Text bold>n</Text> stay
    </Text>
  );
}
