// The dashboard's model: walks a Session through the stages, goal to export, and keeps what the
// panels show. Every change to a run goes through its handle, so it lands in the run history.
import { EventEmitter } from "node:events";
import * as path from "node:path";
import type { FinetuneConfig } from "../lib/cli/config.js";
import { TunebookError } from "../lib/errors.js";
import type { Session } from "../lib/session.js";
import type { RunResult, StepEvent, TrainingRun } from "../lib/train/run.js";
import { runAudits, runChecks } from "./checks.js";
import { describeChange, describeEnd, describeEval } from "./describe.js";
import type { LogEntry } from "./describe.js";
import { formatCount } from "./format.js";
import {
  hyperparametersOf, type Snapshot, type StageName, type StageState, type StageView, STAGES,
} from "./snapshot.js";

/** The session calls the dashboard makes; tests hand in a stand-in. */
export type WorkflowSession = Pick<
  Session,
  "setGoal" | "loadData" | "tokenize" | "train" | "evaluate" | "export" | "data" | "overfit"
>;

export interface WorkflowOptions {
  config: FinetuneConfig;
  /** Opens the session (loads the base model); its lines go to the event log. */
  open: (log: (line: string) => void) => Promise<WorkflowSession>;
}

interface WorkflowEvents {
  /** Something changed; `urgent` after a key or a stage change, false for a training step. */
  update: [urgent: boolean];
  entry: [entry: LogEntry];
  step: [event: StepEvent];
}

const KEEP_EVENTS = 200;

/** The header's words while a stage after training works. */
const WORKING: Partial<Record<StageName, string>> = {
  checks: "checking",
  audits: "auditing the data",
  evaluate: "evaluating",
  export: "exporting",
};

export class Workflow extends EventEmitter<WorkflowEvents> {
  session: WorkflowSession | undefined;
  run: TrainingRun | undefined;
  /** The first failure; the plain front end rethrows it. */
  error: Error | undefined;

  private readonly config: FinetuneConfig;
  private readonly open: WorkflowOptions["open"];
  private readonly stages = new Map<StageName, StageView>(
    STAGES.map((name) => [name, { name, state: "waiting", detail: "" }]),
  );
  private current: StageName = "goal";
  private events: LogEntry[] = [];
  private nextId = 1;
  private pendingLearningRate: number | undefined;
  private busy: string | undefined;
  private task: Promise<unknown> | undefined;
  private savedAtStep = 0;
  private stopping = false;
  private warnedNaN = false;

  constructor(opts: WorkflowOptions) {
    super();
    this.config = opts.config;
    this.open = opts.open;
  }

  /** Goal, data and tokens; then training, unless `start` is false. */
  async begin(start: boolean): Promise<void> {
    if (!(await this.prepare())) return;
    if (start) {
      this.startTraining();
    } else {
      this.current = "train";
      this.setStage("train", "ready", "n starts");
      this.log(null, "hint", "ready: n starts training");
    }
  }

  snapshot(): Snapshot {
    const run = this.run;
    return {
      goal: this.config.goal,
      stages: STAGES.map((name) => ({ ...this.stages.get(name)! })),
      current: this.current,
      status: run?.status ?? "not started",
      steps: run?.steps ?? [],
      evals: run?.evals ?? [],
      totalSteps: run?.totalSteps ?? 0,
      hyper: hyperparametersOf(this.config.train, this.run),
      pendingLearningRate: this.pendingLearningRate,
      events: this.events.slice(),
      busy: this.busy,
      unsavedSteps: this.unsavedSteps,
    };
  }

  get unsavedSteps(): number {
    return this.run === undefined ? 0 : this.run.step - this.savedAtStep;
  }

  /** Multiplies the run's learning rate; the run applies it from its next step. */
  scaleLearningRate(factor: number): void {
    const run = this.liveRun("change the learning rate");
    if (run === undefined) return;
    const next = (this.pendingLearningRate ?? run.settings.learningRate) * factor;
    run.set({ learningRate: next });
    this.pendingLearningRate = next;
    this.update(true);
  }

  togglePause(): void {
    const run = this.liveRun("pause");
    if (run === undefined) return;
    if (run.status === "paused") run.resume();
    else run.pause();
  }

  stop(): void {
    const run = this.liveRun("stop");
    if (run === undefined) return;
    this.stopping = true;
    run.stop();
  }

  /** A checkpoint after the current step, or at once when the run is paused or over. */
  checkpoint(): void {
    const run = this.run;
    if (run === undefined) return this.warn("nothing to checkpoint yet: n starts training");
    if (this.busy !== undefined) return this.warn(`wait: ${this.busy}`);
    if (run.status === "running") {
      if (this.stopping) return this.warn("the run is stopping; checkpoint once it has ended");
      run.checkpoint();
      this.log(run.step, "info", "checkpoint asked for: written after this step");
      return;
    }
    this.track("writing a checkpoint", run.checkpointNow());
  }

  /** Validation loss now, recorded by the run as an evaluation. */
  evaluateNow(): void {
    const run = this.run;
    if (run === undefined) return this.warn("no run yet: n starts training");
    if (this.busy !== undefined) return this.warn(`wait: ${this.busy}`);
    this.track("computing the validation loss", afterDraw().then(() => run.validate()));
  }

  /**
   * Goes on to the next stage: starts training; after it, checks, audits, evaluate and export,
   * one a key. The promise settles when that stage's work is done (failures land in the log).
   */
  async next(): Promise<void> {
    if (this.busy !== undefined) return this.warn(`wait: ${this.busy}`);
    const stage = this.stages.get(this.current)!;
    if (this.current === "train" && this.run === undefined) {
      if (stage.state === "ready") this.startTraining();
      return;
    }
    if (STAGES.indexOf(this.current) < STAGES.indexOf("train")) return;
    if (stage.state === "working" || stage.state === "paused") {
      return this.warn("training is still going: s stops it, or wait until it ends");
    }
    // A failed export is tried again; any other stage goes on to the one after it.
    const retry = this.current === "export" && stage.state === "failed";
    const next = retry ? "export" : STAGES[STAGES.indexOf(this.current) + 1];
    if (next === undefined) return this.log(null, "hint", "all stages done: q quits");
    await this.track(WORKING[next] ?? next, this.runStage(next, () => this.stageWork(next)));
  }

  /** Stops a run that is going and waits for it and for any write in progress. */
  async close(): Promise<void> {
    const run = this.run;
    if (run !== undefined && (run.status === "running" || run.status === "paused")) {
      this.stopping = true;
      run.stop();
    }
    await this.task?.catch(() => undefined);
    if (run !== undefined) await Promise.resolve(run).catch(() => undefined);
  }

  private async prepare(): Promise<boolean> {
    const c = this.config;
    let session: WorkflowSession | undefined;
    const opened = await this.runStage("goal", async () => {
      session = await this.open((line) => this.sessionLine(line));
      session.setGoal({ description: c.goal, answer: c.answer, requiredKeys: c.requiredKeys });
      this.session = session;
      return `base ${path.basename(c.baseModel)}`;
    });
    if (!opened || session === undefined) return false;
    const s = session;
    const loaded = await this.runStage("data", async () => {
      const d = s.loadData({
        train: c.data.train,
        validation: c.data.validation,
        validationFraction: c.data.validationFraction,
        encoding: c.data.encoding,
      });
      return `${formatCount(d.train.size)} train ${formatCount(d.validation.size)} val`;
    });
    if (!loaded) return false;
    return this.runStage("tokens", async () => {
      const r = s.tokenize({ maxLength: c.data.maxLength, overLength: c.data.overLength });
      const dropped = r.train.dropped > 0 ? `, ${r.train.dropped} dropped` : "";
      return `mean ${r.train.lengths.mean.toFixed(0)} tokens${dropped}`;
    });
  }

  private startTraining(): void {
    const session = this.session;
    if (session === undefined) return;
    this.current = "train";
    let run: TrainingRun;
    try {
      run = session.train(this.config.train);
    } catch (err) {
      return this.fail("train", err);
    }
    this.run = run;
    this.setStage("train", "working", `0/${run.totalSteps}`);
    run.on("step", (e) => this.onStep(e));
    run.on("eval", (e) => this.log(e.step, "eval", describeEval(e).text));
    run.on("change", (c) => {
      if (c.action === "set" && "learningRate" in (c.details.after as object)) {
        this.pendingLearningRate = undefined;
      }
      const detail = this.stages.get("train")!.detail;
      if (c.action === "pause") this.setStage("train", "paused", detail);
      if (c.action === "resume") this.setStage("train", "working", detail);
      if (c.action === "checkpoint") this.savedAtStep = c.step;
      const { kind, text } = describeChange(c);
      this.log(c.step, kind, text);
    });
    run.on("end", (r) => this.onEnd(run, r));
    this.log(null, "stage", `training: ${run.totalSteps} steps`);
  }

  private onStep(e: StepEvent): void {
    this.stages.get("train")!.detail = `${e.step}/${e.totalSteps}`;
    if (!Number.isFinite(e.loss) && !this.warnedNaN) {
      this.warnedNaN = true;
      this.log(e.step, "warning", "training loss is not a number: lower the learning rate ([)");
    }
    this.emit("step", e);
    this.update(false);
  }

  private onEnd(run: TrainingRun, r: RunResult): void {
    const state = r.status === "finished" ? "done" : r.status === "failed" ? "failed" : "stopped";
    this.setStage("train", state, `${r.steps}/${run.totalSteps}`);
    const { kind, text } = describeEnd(r, run.error);
    this.log(r.steps, kind, text);
    this.log(null, "hint", "n goes on: checks, audits, evaluate, export");
    if (r.status === "failed") this.error ??= run.error;
  }

  /** The work of the stages after training; returns the stage's short result. */
  private async stageWork(name: StageName): Promise<string> {
    const session = this.session!;
    if (name === "checks" || name === "audits") {
      const report = name === "checks" ? runChecks(session.overfit) : runAudits(session.data);
      for (const line of report.lines) this.log(this.run?.step ?? null, line.kind, line.text);
      return report.detail;
    }
    if (name === "evaluate") {
      const limit = this.config.eval.after ?? undefined;
      const report = await session.evaluate({ label: "after", limit });
      return `accuracy ${report.accuracy.toFixed(3)}`;
    }
    await session.export(this.config.out);
    this.savedAtStep = this.run?.step ?? 0;
    return path.basename(this.config.out);
  }

  private async runStage(name: StageName, work: () => Promise<string>): Promise<boolean> {
    this.current = name;
    this.setStage(name, "working", "");
    // Lets the dashboard draw the stage as working before a long synchronous step.
    await afterDraw();
    try {
      this.setStage(name, "done", await work());
      return true;
    } catch (err) {
      this.fail(name, err);
      return false;
    }
  }

  /** Runs background work (a write, an evaluation) that blocks further stages until done. */
  private track(label: string, work: Promise<unknown>): Promise<void> {
    this.busy = label;
    this.update(true);
    const task = work
      .then(() => undefined)
      .catch((err: unknown) => this.log(this.run?.step ?? null, "error", messageOf(err)))
      .finally(() => {
        this.busy = undefined;
        this.update(true);
      });
    this.task = task;
    return task;
  }

  private liveRun(what: string): TrainingRun | undefined {
    const run = this.run;
    if (run === undefined) {
      this.warn(`no run to ${what}: n starts training`);
      return undefined;
    }
    if ((run.status !== "running" && run.status !== "paused") || this.stopping) {
      this.warn(`the run has ended; nothing to ${what}`);
      return undefined;
    }
    return run;
  }

  /** A line the session logs; its warnings (overfitting, say) are warnings here too. */
  private sessionLine(line: string): void {
    const warning = /\| warning: (.*)$/.exec(line);
    const step = this.run?.step ?? null;
    if (warning === null) return this.log(step, "info", line);
    // A warning comes from inside the run's "eval" event: list it after that evaluation.
    queueMicrotask(() => this.log(step, "warning", warning[1]));
  }

  private fail(name: StageName, err: unknown): void {
    this.setStage(name, "failed", "failed");
    this.log(this.run?.step ?? null, "error", `${name}: ${messageOf(err)}`);
    this.error ??= err instanceof Error ? err : new Error(String(err));
  }

  private setStage(name: StageName, state: StageState, detail: string): void {
    this.stages.set(name, { name, state, detail });
    this.update(true);
  }

  private warn(text: string): void {
    this.log(this.run?.step ?? null, "warning", text);
  }

  private log(step: number | null, kind: LogEntry["kind"], text: string): void {
    const entry: LogEntry = { id: this.nextId++, step, kind, text };
    this.events.push(entry);
    if (this.events.length > KEEP_EVENTS) this.events = this.events.slice(-KEEP_EVENTS);
    this.emit("entry", entry);
    this.update(true);
  }

  private update(urgent: boolean): void {
    this.emit("update", urgent);
  }
}

/** Waits long enough for a throttled frame to reach the terminal. */
function afterDraw(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 150));
}

/** A user mistake reads as its message; anything else keeps its error name. */
function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err instanceof TunebookError ? err.message : `${err.name}: ${err.message}`;
}
