// The run handle: a training loop that yields to the event loop after every step, so a
// notebook cell, a TUI key or a CLI signal can pause, resume, stop or retune it mid-run.
import { EventEmitter } from "node:events";
import * as tf from "@tensorflow/tfjs";
import { AdamW, type AdamWState } from "./adamw.js";
import { type Batch, disposeBatch, type EncodedRow, epochOrder, makeBatch, Rng } from "./batches.js";
import { batchLossSum } from "./loss.js";
import { learningRateAt } from "./schedule.js";
import { TunebookError } from "../errors.js";

/** What the loop needs of a model: logits for a padded batch. */
export interface TrainableModel {
  forward(
    ids: tf.Tensor2D,
    opts?: { attentionMask?: tf.Tensor2D; training?: boolean; positions?: tf.Tensor1D },
  ): tf.Tensor3D;
}

/** Settings that `run.set()` may change while the run goes on. */
export interface LiveSettings {
  learningRate: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Evaluate validation loss every this many steps (0: only at the end of each epoch). */
  evalEvery: number;
}

export interface LoopOptions extends LiveSettings {
  epochs: number;
  batchSize: number;
  gradientAccumulation: number;
  /** Linear warmup over this share of all steps, then cosine decay. */
  warmupRatio: number;
  minLearningRateRatio: number;
  seed: number;
  /** Stop after this many optimizer steps (0: run all epochs). */
  maxSteps: number;
  padId: number;
}

export interface StepEvent {
  step: number;
  totalSteps: number;
  epoch: number; // fractional, e.g. 1.25
  loss: number;
  learningRate: number;
  gradNorm: number;
  tokensPerSecond: number;
  etaSeconds: number;
  elapsedSeconds: number;
}

export interface EvalEvent {
  step: number;
  epoch: number;
  validationLoss: number;
  /** Mean training loss over the steps since the previous evaluation. */
  trainLoss: number;
}

export interface ChangeEvent {
  step: number;
  action: "set" | "pause" | "resume" | "stop" | "checkpoint";
  details: Record<string, unknown>;
}

export type RunStatus = "running" | "paused" | "stopped" | "finished" | "failed";

/** Everything a checkpoint needs to continue the same loss curve. */
export interface LoopState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  order: number[][] | null;
  rngState: number;
  settings: LiveSettings;
  steps: StepEvent[];
  evals: EvalEvent[];
}

export interface RunResult {
  status: RunStatus;
  steps: number;
  finalLoss: number | null;
  validationLoss: number | null;
  seconds: number;
  tokens: number;
}

export interface RunParts {
  model: TrainableModel;
  params: Map<string, tf.Variable>;
  train: EncodedRow[];
  validation: EncodedRow[];
  options: LoopOptions;
  /**
   * Loads a checkpoint before the first step (weights into `params`, then the optimizer and
   * loop state it returns), so that a resumed run can hand back its handle at once.
   */
  restore?: () => Promise<{ optimizer: AdamWState; loop: LoopState }>;
  /** Writes a checkpoint; given by the session, which knows where and what to save. */
  saveCheckpoint?: (state: LoopState, optimizer: AdamW) => Promise<string>;
}

type Listener<T> = (event: T) => void;

export class TrainingRun implements PromiseLike<RunResult> {
  status: RunStatus = "running";
  readonly settings: LiveSettings;
  readonly totalSteps: number;
  readonly changes: ChangeEvent[] = [];
  readonly optimizer: AdamW;
  error: Error | undefined;

  private readonly emitter = new EventEmitter();
  private readonly parts: RunParts;
  private readonly done: Promise<RunResult>;
  private state: LoopState;
  private pending: Partial<LiveSettings> = {};
  private wantStop = false;
  private wantCheckpoint = false;
  private resumeGate: (() => void) | undefined;
  private writing: Promise<string | undefined> | undefined;

  constructor(parts: RunParts) {
    this.parts = parts;
    const o = parts.options;
    validateLoop(o, parts.train.length);
    const microPerEpoch = Math.ceil(parts.train.length / o.batchSize);
    const perEpoch = Math.ceil(microPerEpoch / o.gradientAccumulation);
    this.totalSteps = o.maxSteps > 0 ? Math.min(o.maxSteps, perEpoch * o.epochs) : perEpoch * o.epochs;
    this.optimizer = new AdamW(parts.params);
    this.settings = pickLive(o);
    this.state = {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      order: null,
      rngState: o.seed,
      settings: this.settings,
      steps: [],
      evals: [],
    };
    // Start on the next turn of the event loop, so callers can attach listeners first.
    this.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.loop());
    // A failure is kept in `error` and `status`; a caller who never awaits must not crash the
    // process (a notebook kernel, say), so the rejection counts as handled here.
    this.done.catch(() => undefined);
  }

  then<A = RunResult, B = never>(
    onFulfilled?: ((value: RunResult) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.done.then(onFulfilled, onRejected);
  }

  on(event: "step", listener: Listener<StepEvent>): this;
  on(event: "eval", listener: Listener<EvalEvent>): this;
  on(event: "epoch", listener: Listener<{ epoch: number; step: number }>): this;
  on(event: "change", listener: Listener<ChangeEvent>): this;
  on(event: "checkpoint", listener: Listener<{ step: number; dir: string }>): this;
  on(event: "end", listener: Listener<RunResult>): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (event: any) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (event: any) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  /** Steps so far, each with loss and learning rate. */
  get steps(): readonly StepEvent[] {
    return this.state.steps;
  }

  get evals(): readonly EvalEvent[] {
    return this.state.evals;
  }

  get step(): number {
    return this.state.step;
  }

  /** The settings the run started with (live changes are in `settings`). */
  get options(): Readonly<LoopOptions> {
    return this.parts.options;
  }

  /** Changes take effect at the next step and are recorded with the step they apply to. */
  set(changes: Partial<LiveSettings>): void {
    for (const [key, value] of Object.entries(changes)) {
      if (!(key in this.settings)) {
        throw new TunebookError(
          `run.set: unknown setting "${key}"; use ${Object.keys(this.settings).join(", ")}`,
        );
      }
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
        throw new TunebookError(`run.set: ${key} must be a number >= 0, got ${String(value)}`);
      }
    }
    Object.assign(this.pending, changes);
  }

  pause(): void {
    if (this.status !== "running") return;
    this.status = "paused";
    this.record("pause", {});
  }

  resume(): void {
    if (this.status !== "paused") return;
    this.status = "running";
    this.record("resume", {});
    this.resumeGate?.();
  }

  /** Stops at the next step boundary; the model keeps the weights it has. */
  stop(): void {
    if (this.status !== "running" && this.status !== "paused") return;
    this.wantStop = true;
    this.record("stop", {});
    this.resumeGate?.();
  }

  /** Asks for a checkpoint at the next step boundary. */
  checkpoint(): void {
    this.wantCheckpoint = true;
  }

  /**
   * Writes a checkpoint at once, while no step can start: when paused, stopped or finished
   * (a running loop writes the one `checkpoint()` asks for). Returns the folder written.
   */
  async checkpointNow(): Promise<string | undefined> {
    if (this.status === "running") {
      throw new TunebookError(
        "run.checkpointNow: the run is stepping; use run.checkpoint() for one at the next step",
      );
    }
    // A resume while this writes waits for it in atBoundary, so no step changes the weights.
    this.writing = this.writeCheckpoint();
    try {
      return await this.writing;
    } finally {
      this.writing = undefined;
    }
  }

  /**
   * Computes the validation loss now and emits it as an "eval" event. Call it between steps:
   * from a key handler, a timer or a cell while the run goes on, is paused or has ended.
   */
  validate(): EvalEvent {
    if (this.parts.validation.length === 0) {
      throw new TunebookError("run.validate: there are no validation examples; load some first");
    }
    return this.evaluate();
  }

  /** A copy of the loop's position, for checkpoints. */
  snapshot(): LoopState {
    return structuredClone(this.state);
  }

  private record(action: ChangeEvent["action"], details: Record<string, unknown>): void {
    const change = { step: this.state.step, action, details };
    this.changes.push(change);
    this.emitter.emit("change", change);
  }

  private async loop(): Promise<RunResult> {
    const started = Date.now();
    let tokens = 0;
    try {
      if (this.parts.restore !== undefined) await this.restore(this.parts.restore);
      await this.train((n) => (tokens += n), started);
      this.status = this.wantStop ? "stopped" : "finished";
    } catch (err) {
      this.status = "failed";
      this.error = err as Error;
      throw err;
    } finally {
      this.emitter.emit("end", this.result(started, tokens));
    }
    return this.result(started, tokens);
  }

  private async restore(
    load: () => Promise<{ optimizer: AdamWState; loop: LoopState }>,
  ): Promise<void> {
    const { optimizer, loop } = await load();
    this.optimizer.load(optimizer);
    this.state = structuredClone(loop);
    Object.assign(this.settings, loop.settings);
    this.state.settings = this.settings;
  }

  private result(started: number, tokens: number): RunResult {
    return {
      status: this.status,
      steps: this.state.step,
      finalLoss: this.state.steps.at(-1)?.loss ?? null,
      validationLoss: this.state.evals.at(-1)?.validationLoss ?? null,
      seconds: (Date.now() - started) / 1000,
      tokens,
    };
  }

  private async train(countTokens: (n: number) => void, started: number): Promise<void> {
    const { train, options: o } = this.parts;
    const rng = new Rng(this.state.rngState);
    const microPerEpoch = Math.ceil(train.length / o.batchSize);
    let windowStart = Date.now();
    let windowTokens = 0;
    let stepSeconds: number[] = [];

    while (this.state.step < this.totalSteps && !this.wantStop) {
      // Each epoch draws its order from the generator; a checkpoint keeps the order it drew.
      if (this.state.order === null) {
        this.state.order = epochOrder(train, o.batchSize, rng);
        this.state.rngState = rng.state;
      }

      await this.atBoundary();
      if (this.wantStop) break;
      this.applyPending();

      const stepStart = Date.now();
      const micro = this.state.order.slice(
        this.state.batchInEpoch,
        this.state.batchInEpoch + o.gradientAccumulation,
      );
      const { loss, gradNorm, tokens } = this.optimizerStep(micro);
      this.state.batchInEpoch += micro.length;
      this.state.step += 1;
      countTokens(tokens);
      windowTokens += tokens;

      const now = Date.now();
      stepSeconds.push((now - stepStart) / 1000);
      if (stepSeconds.length > 20) stepSeconds = stepSeconds.slice(-20);
      const meanStep = stepSeconds.reduce((a, b) => a + b, 0) / stepSeconds.length;
      const tokensPerSecond = windowTokens / Math.max(1e-3, (now - windowStart) / 1000);
      if (now - windowStart > 10_000) {
        windowStart = now;
        windowTokens = 0;
      }
      const event: StepEvent = {
        step: this.state.step,
        totalSteps: this.totalSteps,
        epoch: this.state.epoch + this.state.batchInEpoch / microPerEpoch,
        loss,
        learningRate: this.currentLearningRate(this.state.step - 1),
        gradNorm,
        tokensPerSecond,
        etaSeconds: meanStep * (this.totalSteps - this.state.step),
        elapsedSeconds: (now - started) / 1000,
      };
      this.state.steps.push(event);
      this.emitter.emit("step", event);

      const epochDone = this.state.batchInEpoch >= this.state.order.length;
      const lastStep = this.state.step >= this.totalSteps;
      const every = this.settings.evalEvery;
      if (epochDone || lastStep || (every > 0 && this.state.step % every === 0)) {
        if (this.parts.validation.length > 0) await this.evaluateBetweenSteps();
      }
      if (epochDone) {
        this.emitter.emit("epoch", { epoch: this.state.epoch + 1, step: this.state.step });
        this.state.epoch += 1;
        this.state.batchInEpoch = 0;
        this.state.order = null;
      }
      if (this.wantCheckpoint) await this.writeCheckpoint();
    }
  }

  /** Waits while paused, and lets other work (cells, keys, timers) run between steps. */
  private async atBoundary(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.status === "paused" && !this.wantStop) {
      await new Promise<void>((resolve) => (this.resumeGate = resolve));
      this.resumeGate = undefined;
    }
    if (this.writing !== undefined) await this.writing.catch(() => undefined);
  }

  private applyPending(): void {
    if (Object.keys(this.pending).length === 0) return;
    const before: Record<string, number> = {};
    for (const key of Object.keys(this.pending) as (keyof LiveSettings)[]) {
      before[key] = this.settings[key];
    }
    Object.assign(this.settings, this.pending);
    this.record("set", { before, after: { ...this.pending } });
    this.pending = {};
  }

  private currentLearningRate(step: number): number {
    const o = this.parts.options;
    return learningRateAt(step, {
      learningRate: this.settings.learningRate,
      warmupSteps: Math.round(o.warmupRatio * this.totalSteps),
      totalSteps: this.totalSteps,
      minLearningRateRatio: o.minLearningRateRatio,
    });
  }

  private optimizerStep(micro: number[][]): { loss: number; gradNorm: number; tokens: number } {
    const { model, params, train, options: o } = this.parts;
    const varList = [...params.values()];
    const nameOf = new Map(varList.map((v, i) => [v.name, [...params.keys()][i]]));
    const sums = new Map<string, tf.Tensor>();
    let lossSum = 0;
    let trained = 0;
    let tokens = 0;

    for (const indices of micro) {
      const batch: Batch = makeBatch(
        indices.map((i) => train[i]),
        o.padId,
      );
      try {
        const { value, grads } = tf.variableGrads(() => batchLossSum(model, batch, true), varList);
        lossSum += (value.dataSync() as Float32Array)[0];
        value.dispose();
        for (const [varName, g] of Object.entries(grads)) {
          const name = nameOf.get(varName)!;
          const prev = sums.get(name);
          if (prev === undefined) {
            sums.set(name, g);
          } else {
            sums.set(name, prev.add(g));
            prev.dispose();
            g.dispose();
          }
        }
        trained += batch.trainedTokens;
        tokens += batch.tokens;
      } finally {
        disposeBatch(batch);
      }
    }

    const denom = Math.max(1, trained);
    const gradNorm = tf.tidy(() => {
      const squares = [...sums.values()].map((g) => g.square().sum());
      return Math.sqrt((tf.addN(squares).dataSync() as Float32Array)[0]) / denom;
    });
    // Averaging over trained tokens and clipping fold into one scale factor.
    const clip = this.settings.maxGradNorm > 0 && gradNorm > this.settings.maxGradNorm;
    const scale = (clip ? this.settings.maxGradNorm / gradNorm : 1) / denom;
    const scaled = new Map<string, tf.Tensor>();
    for (const [name, g] of sums) {
      scaled.set(name, g.mul(scale));
      g.dispose();
    }
    try {
      this.optimizer.options.weightDecay = this.settings.weightDecay;
      this.optimizer.apply(scaled, this.currentLearningRate(this.state.step));
    } finally {
      for (const g of scaled.values()) g.dispose();
    }
    return { loss: lossSum / denom, gradNorm, tokens };
  }

  /** Mean validation loss per trained token. */
  /** Mean training loss of the steps since the previous evaluation (or the start). */
  private trainLossSinceEval(): number {
    const since = this.state.evals.at(-1)?.step ?? 0;
    const recent = this.state.steps.filter((s) => s.step > since);
    if (recent.length === 0) return this.state.steps.at(-1)?.loss ?? Number.NaN;
    return recent.reduce((sum, s) => sum + s.loss, 0) / recent.length;
  }

  private evaluate(): EvalEvent {
    const o = this.parts.options;
    return this.recordEval(meanLoss(this.parts.model, this.parts.validation, o.batchSize, o.padId));
  }

  /** The loop's evaluation: the same numbers, but other work runs between its batches. */
  private async evaluateBetweenSteps(): Promise<EvalEvent> {
    const o = this.parts.options;
    const loss = await meanLossAsync(this.parts.model, this.parts.validation, o.batchSize, o.padId);
    return this.recordEval(loss);
  }

  private recordEval(validationLoss: number): EvalEvent {
    const event: EvalEvent = {
      step: this.state.step,
      epoch: this.state.epoch + 1,
      validationLoss,
      trainLoss: this.trainLossSinceEval(),
    };
    this.state.evals.push(event);
    this.emitter.emit("eval", event);
    return event;
  }

  private async writeCheckpoint(): Promise<string | undefined> {
    this.wantCheckpoint = false;
    if (this.parts.saveCheckpoint === undefined) return undefined;
    const dir = await this.parts.saveCheckpoint(this.snapshot(), this.optimizer);
    this.record("checkpoint", { dir });
    this.emitter.emit("checkpoint", { step: this.state.step, dir });
    return dir;
  }
}

/** Summed loss and trained-token count of each batch of rows, shortest rows first. */
function* batchLosses(
  model: TrainableModel,
  rows: EncodedRow[],
  batchSize: number,
  padId: number,
): Generator<[number, number]> {
  const sorted = rows.slice().sort((a, b) => a.ids.length - b.ids.length);
  for (let i = 0; i < sorted.length; i += batchSize) {
    const batch = makeBatch(sorted.slice(i, i + batchSize), padId);
    try {
      const loss = tf.tidy(() => batchLossSum(model, batch, false));
      const sum = (loss.dataSync() as Float32Array)[0];
      loss.dispose();
      yield [sum, batch.trainedTokens];
    } finally {
      disposeBatch(batch);
    }
  }
}

/** Mean loss per trained token over rows, without gradients. */
export function meanLoss(
  model: TrainableModel,
  rows: EncodedRow[],
  batchSize: number,
  padId: number,
): number {
  let sum = 0;
  let count = 0;
  for (const [s, n] of batchLosses(model, rows, batchSize, padId)) {
    sum += s;
    count += n;
  }
  return sum / Math.max(1, count);
}

/**
 * The same, yielding to the event loop between batches: a validation pass inside a run takes
 * seconds, and the dashboard, a notebook's stop button or a key must not freeze meanwhile.
 */
export async function meanLossAsync(
  model: TrainableModel,
  rows: EncodedRow[],
  batchSize: number,
  padId: number,
): Promise<number> {
  let sum = 0;
  let count = 0;
  for (const [s, n] of batchLosses(model, rows, batchSize, padId)) {
    sum += s;
    count += n;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return sum / Math.max(1, count);
}

function pickLive(o: LoopOptions): LiveSettings {
  return {
    learningRate: o.learningRate,
    weightDecay: o.weightDecay,
    maxGradNorm: o.maxGradNorm,
    evalEvery: o.evalEvery,
  };
}

function validateLoop(o: LoopOptions, rows: number): void {
  if (rows === 0) throw new TunebookError("train: the training set is empty");
  const positive: (keyof LoopOptions)[] = ["epochs", "batchSize", "gradientAccumulation"];
  for (const key of positive) {
    if (!Number.isInteger(o[key]) || (o[key] as number) < 1) {
      throw new TunebookError(`train: ${key} must be a whole number >= 1, got ${String(o[key])}`);
    }
  }
  if (!(o.learningRate > 0)) {
    throw new TunebookError(`train: learningRate must be > 0, got ${String(o.learningRate)}`);
  }
}
