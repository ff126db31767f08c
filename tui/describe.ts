// Turns run events into the one-line entries of the dashboard's event log.
import type { ChangeEvent, EvalEvent, RunResult } from "../lib/train/run.js";
import { formatLoss, formatRate } from "./format.js";

/** One line of the event log. */
export interface LogEntry {
  /** Counts up from 1; a stable React key. */
  id: number;
  /** The optimizer step it happened at; null before training. */
  step: number | null;
  /** "hint" names a key to press; the plain front end, which has no keys, leaves it out. */
  kind: "eval" | "checkpoint" | "change" | "warning" | "error" | "stage" | "info" | "hint";
  text: string;
}

const SETTING_NAMES: Record<string, string> = {
  learningRate: "learning rate",
  weightDecay: "weight decay",
  maxGradNorm: "max grad norm",
  evalEvery: "eval every",
};

export function describeChange(change: ChangeEvent): Pick<LogEntry, "kind" | "text"> {
  switch (change.action) {
    case "set": {
      const before = change.details.before as Record<string, number>;
      const after = change.details.after as Record<string, number>;
      const parts = Object.keys(after).map((key) => {
        const show = key === "evalEvery" ? String : formatRate;
        return `${SETTING_NAMES[key] ?? key} ${show(before[key])} → ${show(after[key])}`;
      });
      return { kind: "change", text: `set ${parts.join(", ")}` };
    }
    case "pause":
      return { kind: "change", text: "paused (p resumes)" };
    case "resume":
      return { kind: "change", text: "resumed" };
    case "stop":
      return { kind: "change", text: "stop asked: the run ends at this step" };
    case "checkpoint":
      return { kind: "checkpoint", text: `checkpoint written to ${String(change.details.dir)}` };
  }
}

export function describeEval(e: EvalEvent): Pick<LogEntry, "kind" | "text"> {
  const train = Number.isFinite(e.trainLoss) ? ` (train ${formatLoss(e.trainLoss)})` : "";
  return { kind: "eval", text: `validation loss ${formatLoss(e.validationLoss)}${train}` };
}

export function describeEnd(
  r: RunResult,
  error: Error | undefined,
): Pick<LogEntry, "kind" | "text"> {
  if (r.status === "failed") {
    return { kind: "error", text: `training failed: ${error?.message ?? "unknown error"}` };
  }
  const verb = r.status === "finished" ? "finished" : "stopped";
  return {
    kind: "stage",
    text: `training ${verb} after ${r.steps} steps, loss ${formatLoss(r.finalLoss)}`,
  };
}
