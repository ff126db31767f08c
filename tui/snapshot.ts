// What the dashboard draws: the stages and their states, the run's progress and settings, and
// the event log, taken together at one moment.
import type { TrainOptions } from "../lib/session.js";
import type { EvalEvent, RunStatus, StepEvent, TrainingRun } from "../lib/train/run.js";
import type { LogEntry } from "./describe.js";

export const STAGES = [
  "goal", "data", "tokens", "train", "checks", "audits", "evaluate", "export",
] as const;
export type StageName = (typeof STAGES)[number];
export type StageState =
  | "waiting" | "ready" | "working" | "paused" | "done" | "stopped" | "skipped" | "failed";

export interface StageView {
  name: StageName;
  state: StageState;
  /** A few words on the result, e.g. "15k train 3k val". */
  detail: string;
}

/** The settings panel: live values from the run once it exists, else the config's. */
export interface Hyperparameters {
  learningRate: number | undefined;
  weightDecay: number | undefined;
  maxGradNorm: number | undefined;
  evalEvery: number | undefined;
  /** e.g. "lora r 16 · α 32". */
  method: string;
  /** e.g. "32 × 1 · 2 epochs". */
  batch: string;
}

/** Everything the dashboard draws, taken at one moment. */
export interface Snapshot {
  goal: string;
  stages: readonly StageView[];
  current: StageName;
  status: RunStatus | "not started";
  steps: readonly StepEvent[];
  evals: readonly EvalEvent[];
  totalSteps: number;
  hyper: Hyperparameters;
  /** A learning rate asked for that the run applies at its next step. */
  pendingLearningRate: number | undefined;
  events: readonly LogEntry[];
  /** What is being done right now that blocks further stages, e.g. "evaluating". */
  busy: string | undefined;
  /** Steps trained since the last checkpoint or export: lost on quit. */
  unsavedSteps: number;
}

/** Live values from the run once it exists, else the config's. */
export function hyperparametersOf(t: TrainOptions, run: TrainingRun | undefined): Hyperparameters {
  const live = run?.settings;
  const o = run?.options;
  const method = t.method ?? "lora";
  const lora =
    method === "lora" && t.lora?.r !== undefined
      ? ` r ${t.lora.r}${t.lora.alpha === undefined ? "" : ` · α ${t.lora.alpha}`}`
      : "";
  const batchSize = o?.batchSize ?? t.batchSize;
  const accumulation = o?.gradientAccumulation ?? t.gradientAccumulation ?? 1;
  const epochs = o?.epochs ?? t.epochs;
  return {
    learningRate: live?.learningRate ?? t.learningRate,
    weightDecay: live?.weightDecay ?? t.weightDecay,
    maxGradNorm: live?.maxGradNorm ?? t.maxGradNorm,
    evalEvery: live?.evalEvery ?? t.evalEvery,
    method: method + lora,
    batch:
      `${batchSize ?? "-"} × ${accumulation}` +
      (epochs === undefined ? "" : ` · ${epochs} epoch${epochs === 1 ? "" : "s"}`),
  };
}
