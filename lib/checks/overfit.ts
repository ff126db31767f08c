// Watches a training run for overfitting: the train/validation gap per epoch, a warning when
// validation loss rises k evaluations in a row, and optional early stopping that puts back the
// weights of the best evaluation.
import * as tf from "@tensorflow/tfjs";
import type { EvalEvent, StepEvent, TrainingRun } from "../train/run.js";

export interface OverfitOptions {
  /** Evaluations in a row with rising validation loss that make a warning (default 3). */
  patience?: number;
  /** A rise smaller than this does not count (default 0). */
  minDelta?: number;
  /** Stop the run at the warning (default false). */
  earlyStop?: boolean;
  /**
   * The trained variables (session: model.trainableVariables). With them, the weights of the
   * best evaluation are kept in memory and put back when the run stops early.
   */
  params?: Map<string, tf.Variable>;
  /** Called once per rising streak; the session logs it. */
  onWarning?: (warning: OverfitWarning) => void;
}

export interface OverfitWarning {
  step: number;
  epoch: number;
  validationLoss: number;
  bestValidationLoss: number;
  bestStep: number;
  message: string;
}

export interface EpochGap {
  epoch: number;
  step: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Validation loss at the epoch's end. */
  validationLoss: number;
  /** validation - train: grows as the model fits the training set and not the task. */
  gap: number;
}

export interface OverfitResult {
  counts: { evaluations: number; epochs: number; warnings: number };
  epochs: EpochGap[];
  warnings: OverfitWarning[];
  best: { step: number; validationLoss: number } | null;
  stoppedEarly: boolean;
  /** Step whose weights were put back, or null. */
  restoredStep: number | null;
  charts: {
    loss: { x: number[]; train: number[]; validationX: number[]; validation: number[] };
    gap: { x: number[]; y: number[] };
  };
  summary: string;
}

export class OverfitMonitor {
  readonly epochs: EpochGap[] = [];
  readonly warnings: OverfitWarning[] = [];
  best: { step: number; validationLoss: number } | null = null;
  stoppedEarly = false;
  restoredStep: number | null = null;

  private readonly steps: StepEvent[] = [];
  private readonly evals: EvalEvent[] = [];
  private epochStart = 0;
  private rising = 0;
  private snapshot: Map<string, tf.Tensor> | undefined;
  private readonly onStepEvent = (e: StepEvent) => void this.steps.push(e);
  private readonly onEvalEvent = (e: EvalEvent) => this.onEval(e);
  private readonly onEpochEvent = (e: { epoch: number; step: number }) => this.onEpoch(e);
  private readonly onEndEvent = () => this.onEnd();

  private constructor(
    private readonly run: TrainingRun,
    private readonly opts: OverfitOptions,
  ) {
    run
      .on("step", this.onStepEvent)
      .on("eval", this.onEvalEvent)
      .on("epoch", this.onEpochEvent)
      .on("end", this.onEndEvent);
  }

  /** Starts watching `run`; attach before its first step (right after session.train()). */
  static attach(run: TrainingRun, opts: OverfitOptions = {}): OverfitMonitor {
    return new OverfitMonitor(run, opts);
  }

  /** Stops listening and frees the kept weights. */
  detach(): void {
    this.run
      .off("step", this.onStepEvent)
      .off("eval", this.onEvalEvent)
      .off("epoch", this.onEpochEvent)
      .off("end", this.onEndEvent);
    this.dropSnapshot();
  }

  result(): OverfitResult {
    const summary = this.summary();
    return {
      counts: {
        evaluations: this.evals.length,
        epochs: this.epochs.length,
        warnings: this.warnings.length,
      },
      epochs: this.epochs,
      warnings: this.warnings,
      best: this.best,
      stoppedEarly: this.stoppedEarly,
      restoredStep: this.restoredStep,
      charts: {
        loss: {
          x: this.steps.map((s) => s.step),
          train: this.steps.map((s) => s.loss),
          validationX: this.evals.map((e) => e.step),
          validation: this.evals.map((e) => e.validationLoss),
        },
        gap: { x: this.epochs.map((e) => e.epoch), y: this.epochs.map((e) => e.gap) },
      },
      summary,
    };
  }

  private onEval(e: EvalEvent): void {
    const previous = this.evals.at(-1);
    this.evals.push(e);
    if (this.best === null || e.validationLoss < this.best.validationLoss) {
      this.best = { step: e.step, validationLoss: e.validationLoss };
      this.keepWeights();
    }
    const minDelta = this.opts.minDelta ?? 0;
    this.rising =
      previous !== undefined && e.validationLoss > previous.validationLoss + minDelta
        ? this.rising + 1
        : 0;
    if (this.rising !== (this.opts.patience ?? 3)) return;

    const warning: OverfitWarning = {
      step: e.step,
      epoch: e.epoch,
      validationLoss: e.validationLoss,
      bestValidationLoss: this.best.validationLoss,
      bestStep: this.best.step,
      message:
        `validation loss rose ${this.rising} evaluations in a row (now ` +
        `${e.validationLoss.toFixed(3)}, best ${this.best.validationLoss.toFixed(3)} at step ` +
        `${this.best.step}): the model is overfitting` +
        (this.opts.earlyStop
          ? "; stopping early"
          : "; consider stopping or lowering the learning rate"),
    };
    this.warnings.push(warning);
    this.opts.onWarning?.(warning);
    if (this.opts.earlyStop) {
      this.stoppedEarly = true;
      this.run.stop();
    }
  }

  private onEpoch(e: { epoch: number; step: number }): void {
    const losses = this.steps.slice(this.epochStart).map((s) => s.loss);
    this.epochStart = this.steps.length;
    const validation = this.evals.at(-1);
    if (losses.length === 0 || validation === undefined || validation.step !== e.step) return;
    const trainLoss = losses.reduce((a, b) => a + b, 0) / losses.length;
    this.epochs.push({
      epoch: e.epoch,
      step: e.step,
      trainLoss,
      validationLoss: validation.validationLoss,
      gap: validation.validationLoss - trainLoss,
    });
  }

  /** After the last step: put the best weights back if the run stopped early. */
  private onEnd(): void {
    if (this.stoppedEarly && this.snapshot !== undefined && this.opts.params !== undefined) {
      for (const [name, v] of this.opts.params) {
        const kept = this.snapshot.get(name);
        if (kept !== undefined) v.assign(kept);
      }
      this.restoredStep = this.best?.step ?? null;
    }
    this.dropSnapshot();
  }

  private keepWeights(): void {
    if (this.opts.params === undefined || !this.opts.earlyStop) return;
    this.dropSnapshot();
    this.snapshot = new Map([...this.opts.params].map(([name, v]) => [name, tf.clone(v)]));
  }

  private dropSnapshot(): void {
    if (this.snapshot !== undefined) tf.dispose([...this.snapshot.values()]);
    this.snapshot = undefined;
  }

  private summary(): string {
    if (this.evals.length === 0) {
      return "No validation loss was measured yet, so overfitting cannot be judged.";
    }
    const last = this.epochs.at(-1);
    const latest = this.evals.at(-1)!;
    let text = last
      ? `After epoch ${last.epoch} the training loss is ${last.trainLoss.toFixed(3)} and the ` +
        `validation loss ${last.validationLoss.toFixed(3)} (gap ${last.gap.toFixed(3)}). `
      : `Validation loss ${latest.validationLoss.toFixed(3)} at step ${latest.step}. `;
    text +=
      `The best validation loss, ${this.best!.validationLoss.toFixed(3)}, came at step ` +
      `${this.best!.step}. `;
    if (this.warnings.length === 0) {
      text += "Validation loss never rose several evaluations in a row: no sign of overfitting.";
    } else {
      text +=
        `Validation loss rose ${this.opts.patience ?? 3} evaluations in a row ` +
        `${this.warnings.length} time(s), first at step ${this.warnings[0].step}: the model is ` +
        "fitting the training set at the cost of new data.";
      if (this.stoppedEarly) {
        text +=
          this.restoredStep !== null
            ? ` Training stopped early and the weights of step ${this.restoredStep} were put back.`
            : " Training stopped early.";
      }
    }
    return text;
  }
}
