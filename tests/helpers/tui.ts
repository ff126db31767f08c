// Stand-ins for the terminal dashboard tests: a snapshot with a run half done, a session whose
// train() is a real TrainingRun on a tiny model, and frame helpers.
import { stripVTControlCharacters } from "node:util";
import { OverfitMonitor } from "../../lib/checks/overfit.js";
import type { FinetuneConfig } from "../../lib/cli/config.js";
import type { Example } from "../../lib/data/records.js";
import type { EvalEvent, StepEvent } from "../../lib/train/run.js";
import { TrainingRun } from "../../lib/train/run.js";
import { type Snapshot, STAGES } from "../../tui/snapshot.js";
import type { WorkflowSession } from "../../tui/workflow.js";
import { loopOptions, tinyModel, tinyRows } from "./tiny.js";

export function steps(n: number, total: number): StepEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    step: i + 1,
    totalSteps: total,
    epoch: (i + 1) / 10,
    loss: 3 - (2 * i) / Math.max(1, n - 1),
    learningRate: 2e-3 * Math.min(1, (i + 1) / 5),
    gradNorm: 1,
    tokensPerSecond: 1234,
    etaSeconds: 75,
    elapsedSeconds: i,
  }));
}

export function evals(at: number[], losses: number[]): EvalEvent[] {
  return at.map((step, i) => ({ step, epoch: 1, validationLoss: losses[i], trainLoss: 2 }));
}

/** A run at step 50 of 100 with two evaluations and a few events. */
export function snapshotOf(over: Partial<Snapshot> = {}): Snapshot {
  const states = ["done", "done", "done", "working", "waiting", "waiting", "waiting", "waiting"];
  return {
    goal: "Route support messages to one of 150 intents.",
    stages: STAGES.map((name, i) => ({
      name,
      state: states[i] as Snapshot["stages"][number]["state"],
      detail: name === "data" ? "15k train 3k val" : name === "train" ? "50/100" : "",
    })),
    current: "train",
    status: "running",
    steps: steps(50, 100),
    evals: evals([20, 40], [2.5, 2.1]),
    totalSteps: 100,
    hyper: {
      learningRate: 2e-3,
      weightDecay: 0,
      maxGradNorm: 1,
      evalEvery: 20,
      method: "lora r 16 · α 32",
      batch: "32 × 1 · 2 epochs",
    },
    pendingLearningRate: undefined,
    events: [
      { id: 1, step: null, kind: "stage", text: "training: 100 steps" },
      { id: 2, step: 20, kind: "eval", text: "validation loss 2.500 (train 2.600)" },
      { id: 3, step: 40, kind: "eval", text: "validation loss 2.100 (train 2.200)" },
      { id: 4, step: 45, kind: "change", text: "set learning rate 4.0e-3 → 2.0e-3" },
    ],
    busy: undefined,
    unsavedSteps: 50,
    ...over,
  };
}

export const TEST_CONFIG: FinetuneConfig = {
  goal: "Map a prompt token to its answer.",
  answer: "label",
  baseModel: "/models/tiny",
  data: { train: "train.jsonl" },
  train: { method: "full", learningRate: 1e-2, epochs: 400, batchSize: 4, evalEvery: 0 },
  eval: { before: null, after: null, baseline: false },
  out: "/runs/tiny",
};

/** What the stand-in session was asked to do, for assertions. */
export interface SessionCalls {
  exported: string[];
  evaluated: number;
  checkpoints: number[];
}

/**
 * A session whose data and reports are made up and whose training is real (tiny model); it
 * logs like the real one, and with `warning` it logs an overfitting warning at the first
 * evaluation, as the session's monitor would.
 */
export function tinySession(
  calls: SessionCalls,
  log: (line: string) => void = () => undefined,
  warning?: string,
): WorkflowSession {
  const model = tinyModel();
  const report = { count: 32, tooLong: 0, dropped: 0, truncated: 0, lengths: { mean: 5 } };
  const data = { train: dataset(32, 0), validation: dataset(8, 32) };
  const session = {
    data: undefined as typeof data | undefined,
    overfit: undefined as OverfitMonitor | undefined,
    setGoal: () => session,
    loadData: () => (session.data = data),
    tokenize: () => ({ train: report, validation: report }),
    train: (opts: { learningRate?: number; epochs?: number }) => {
      const run = new TrainingRun({
        model,
        params: model.trainableVariables({ method: "full" }),
        train: tinyRows(32),
        validation: tinyRows(8),
        options: loopOptions({ learningRate: opts.learningRate, epochs: opts.epochs }),
        saveCheckpoint: async (state) => {
          calls.checkpoints.push(state.step);
          return `/checkpoints/step-${state.step}`;
        },
      });
      if (warning !== undefined) run.on("eval", () => log(`train | warning: ${warning}`));
      session.overfit = OverfitMonitor.attach(run);
      return run;
    },
    evaluate: async () => {
      calls.evaluated += 1;
      log("evaluate after | n 8 | accuracy 0.625 | val loss 1.500");
      return { n: 8, accuracy: 0.625, validation_loss: 1.5 };
    },
    export: async (dir: string) => {
      calls.exported.push(dir);
      log(`export | ${dir}`);
    },
  };
  return session as unknown as WorkflowSession;
}

/** Examples with an e-mail address in the first, so the audits find something. */
function dataset(n: number, from: number) {
  const examples: Example[] = Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const input = i === 0 ? "mail ana@example.com about my order" : `question ${i} of the set`;
    return {
      messages: [
        { role: "user", content: input },
        { role: "assistant", content: `intent_${i % 4}` },
      ],
      source: { file: "train.jsonl", line: i + 1 },
    };
  });
  return { examples, size: n };
}

/** The frame's text without colours, as lines. */
export function lines(frame: string | undefined): string[] {
  return stripVTControlCharacters(frame ?? "").split("\n");
}

/** Polls until `check` passes (it throws until then) or the time is up. */
export async function until(check: () => void, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
