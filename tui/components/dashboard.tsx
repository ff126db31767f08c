// The whole screen for one snapshot: header, chart and stages, progress, settings and events,
// and the key line. Pure: sizes and mode come in as props, so tests can render any terminal.
import { Box, Text } from "ink";
import { layout } from "../layout.js";
import type { Snapshot } from "../snapshot.js";
import { EventLog } from "./event-log.js";
import { Header } from "./header.js";
import { HelpLine } from "./help-line.js";
import { HelpScreen } from "./help-screen.js";
import { Hyperparameters } from "./hyperparameters.js";
import { LossChart } from "./loss-chart.js";
import { Panel } from "./panel.js";
import { ProgressLine } from "./progress-line.js";
import { QuitPrompt } from "./quit-prompt.js";
import { Stages } from "./stages.js";

/** "main": the panels; "help": the keys; "quit": asking first; "closing": stopping the run. */
export type Mode = "main" | "help" | "quit" | "closing";

export interface DashboardProps {
  snapshot: Snapshot;
  columns: number;
  rows: number;
  mode: Mode;
}

/** Borders and padding inside a panel, left and right together. */
const PANEL_FRAME = 4;

export function Dashboard({ snapshot: s, columns, rows, mode }: DashboardProps) {
  const l = layout(columns, rows);
  const last = s.steps.at(-1);
  const footer =
    mode === "quit" ? (
      <QuitPrompt unsavedSteps={s.unsavedSteps} />
    ) : mode === "closing" ? (
      <Text color="yellow">stopping the run at the end of this step…</Text>
    ) : (
      <HelpLine />
    );
  const header = <Header goal={s.goal} status={s.status} busy={s.busy} width={columns} />;
  const progress = (
    <ProgressLine
      last={last}
      totalSteps={s.totalSteps}
      status={s.status}
      idle={idleText(s)}
      width={columns}
    />
  );

  if (l.compact) {
    return (
      <Box flexDirection="column" width={columns} height={rows - 1} overflow="hidden">
        {header}
        {progress}
        <EventLog events={s.events} rows={Math.max(1, rows - 4)} width={columns} />
        {footer}
      </Box>
    );
  }
  const body =
    mode === "help" ? (
      <>
        <HelpScreen width={columns} rows={l.topRows + l.bottomRows + 2} />
        {progress}
      </>
    ) : (
      <>
        <Box>
          <Panel title="loss" width={l.mainWidth} rows={l.topRows}>
            <LossChart
              steps={s.steps}
              evals={s.evals}
              width={l.mainWidth - PANEL_FRAME}
              rows={l.topRows}
            />
          </Panel>
          <Panel title="stages" width={l.sideWidth} rows={l.topRows}>
            <Stages stages={s.stages} current={s.current} width={l.sideWidth - PANEL_FRAME} />
          </Panel>
        </Box>
        {progress}
        <Box>
          <Panel title="hyperparameters" width={l.sideWidth} rows={l.bottomRows}>
            <Hyperparameters
              hyper={s.hyper}
              pendingLearningRate={s.pendingLearningRate}
              scheduledLearningRate={last?.learningRate}
              rows={l.bottomRows}
              width={l.sideWidth - PANEL_FRAME}
            />
          </Panel>
          <Panel title="events" width={l.mainWidth} rows={l.bottomRows}>
            <EventLog events={s.events} rows={l.bottomRows} width={l.mainWidth - PANEL_FRAME} />
          </Panel>
        </Box>
      </>
    );
  return (
    <Box flexDirection="column" width={columns} height={rows - 1} overflow="hidden">
      {header}
      {body}
      {footer}
    </Box>
  );
}

/** The progress line's words before training: still preparing, waiting for n, or failed. */
function idleText(s: Snapshot): string {
  if (s.stages.some((stage) => stage.state === "failed")) return "not started: see the events";
  const train = s.stages.find((stage) => stage.name === "train");
  return train?.state === "ready" ? "not started: n starts training" : `preparing: ${s.current}`;
}
