// `tunebook tui [--config FILE] [--no-start]`: the terminal dashboard. On a terminal it draws the
// Ink app on the alternate screen; when stdout or stdin is not a terminal it prints plain lines.
import { render } from "ink";
import { DEMO_CONFIG, readConfig } from "../lib/cli/config.js";
import { Session } from "../lib/session.js";
import { App } from "./components/app.js";
import { formatLoss, formatRate } from "./format.js";
import { runPlain } from "./plain.js";
import { Workflow } from "./workflow.js";

export interface TuiOptions {
  /** Fine-tuning config (JSON); default: the CLINC150 demo. */
  config?: string;
  /** Start training as soon as the data is tokenized; false waits for the n key. */
  start: boolean;
}

/** Frames written per second at most; the workflow hook asks for fewer while training. */
const MAX_FPS = 8;
const ENTER_SCREEN = "\x1b[?1049h\x1b[2J\x1b[H";
const LEAVE_SCREEN = "\x1b[?1049l\x1b[?25h";

export async function tuiCommand(opts: TuiOptions): Promise<void> {
  const config = readConfig(opts.config ?? DEMO_CONFIG);
  const workflow = new Workflow({
    config,
    open: (log) => Session.open({ baseModel: config.baseModel, log }),
  });
  if (process.stdout.isTTY && process.stdin.isTTY) {
    await runDashboard(workflow, opts.start);
  } else {
    await runPlain(workflow, opts.start);
  }
}

async function runDashboard(workflow: Workflow, start: boolean): Promise<void> {
  const out = process.stdout;
  // The alternate screen gives the terminal back as it was, whatever the dashboard drew.
  const leave = () => out.write(LEAVE_SCREEN);
  out.write(ENTER_SCREEN);
  process.once("exit", leave);
  const app = render(<App workflow={workflow} />, {
    exitOnCtrlC: false,
    maxFps: MAX_FPS,
  });
  // A resized terminal reflows the old frame: clear it before Ink draws the new one whole.
  const onResize = () => {
    app.clear();
    out.write("\x1b[2J\x1b[H");
  };
  out.prependListener("resize", onResize);
  void workflow.begin(start);
  try {
    await app.waitUntilExit();
  } finally {
    out.off("resize", onResize);
    leave();
    process.off("exit", leave);
  }
  out.write(summary(workflow) + "\n");
}

/** The lines left on the terminal after quitting: where the run got to and what was done. */
function summary(workflow: Workflow): string {
  const run = workflow.run;
  if (run === undefined) return "tunebook tui: no training run";
  const loss = formatLoss(run.steps.at(-1)?.loss);
  const unsaved = workflow.unsavedSteps;
  const changes = run.changes.map((c) => c.action).join(", ") || "none";
  return (
    `tunebook tui: ${run.status} at step ${run.step}/${run.totalSteps}, loss ${loss}, ` +
    `learning rate ${formatRate(run.settings.learningRate)}\n` +
    `run changes: ${changes}; ${unsaved > 0 ? `${unsaved} steps not saved` : "saved"}`
  );
}
