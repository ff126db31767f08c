// The dashboard application: follows the workflow, the terminal's size and the keys.
import { useKeys } from "../hooks/use-keys.js";
import { useTerminalSize } from "../hooks/use-terminal-size.js";
import { useWorkflow } from "../hooks/use-workflow.js";
import type { Workflow } from "../workflow.js";
import { Dashboard } from "./dashboard.js";

export interface AppProps {
  workflow: Workflow;
  /** Redraws per second while training; default FRAMES_PER_SECOND. */
  fps?: number;
}

export function App({ workflow, fps }: AppProps) {
  const snapshot = useWorkflow(workflow, fps);
  const { columns, rows } = useTerminalSize();
  const mode = useKeys(workflow);
  return <Dashboard snapshot={snapshot} columns={columns} rows={rows} mode={mode} />;
}
