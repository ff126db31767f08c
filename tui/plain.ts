// The dashboard without a terminal (stdout or stdin is a pipe or a file): the same workflow,
// driven through its stages to the end, reported as plain progress lines.
import { progressFor } from "../lib/cli/progress.js";
import type { LogEntry } from "./describe.js";
import type { Workflow } from "./workflow.js";

export async function runPlain(
  workflow: Workflow,
  start: boolean,
  stream: NodeJS.WriteStream = process.stdout,
): Promise<void> {
  const progress = progressFor("train", stream);
  workflow.on("entry", (e) => {
    // Hints name keys, and there are none to press here.
    if (e.kind !== "hint") progress.log(formatEntry(e));
  });
  workflow.on("step", (e) => progress.step(e));
  // Ctrl-C stops training at the next step; evaluation and export still run.
  const onSignal = () => workflow.stop();
  process.once("SIGINT", onSignal);
  try {
    await workflow.begin(start);
    if (!start && workflow.error === undefined) {
      progress.log("stage | --no-start: stopping before training");
    }
    if (start && workflow.run !== undefined) {
      await Promise.resolve(workflow.run).catch(() => undefined);
      // Checks, audits, evaluate, export: one `next` each, as the n key does.
      for (let i = 0; i < 4 && workflow.error === undefined; i++) await workflow.next();
    }
  } finally {
    process.off("SIGINT", onSignal);
    progress.stop();
  }
  if (workflow.error !== undefined) throw workflow.error;
}

/** One event as a log line: "eval | step 120 | validation loss 2.345 (train 2.210)". */
export function formatEntry(e: LogEntry): string {
  return [e.kind, e.step === null ? undefined : `step ${e.step}`, e.text]
    .filter((part) => part !== undefined)
    .join(" | ");
}
