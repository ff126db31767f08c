// Forgetting: perplexity on general held-out text (the base model's heldout.txt, written by the
// pretrain command) before and after fine-tuning. A large rise means general ability was lost.
import { readFileSync } from "node:fs";
import { TunebookError } from "../errors.js";
import type { TrainableModel } from "../train/run.js";
import { type PerplexityResult, type TextEncoder, textPerplexity } from "./likelihood.js";

export interface ForgettingOptions {
  /** The model's context length (model.config.maxPositions). */
  contextLength: number;
  /** Score at most this many tokens of the text (default 20 000), for speed. */
  maxTokens?: number;
  batchSize?: number;
}

export interface ForgettingResult {
  before: PerplexityResult;
  after: PerplexityResult;
  /** after / before perplexity: 1 = unchanged. */
  ratio: number;
  charts: { perplexity: { x: string[]; y: number[] } };
  summary: string;
}

/** Measure before training with start(), after with finish(). */
export class ForgettingCheck {
  private measured: PerplexityResult | undefined;

  constructor(
    private readonly model: TrainableModel,
    private readonly tokenizer: TextEncoder,
    private readonly text: string,
    private readonly opts: ForgettingOptions,
  ) {
    if (text.trim() === "") throw new TunebookError("forgetting check: the held-out text is empty");
  }

  /** Reads the held-out text from a file (e.g. models/tunebook-base/heldout.txt). */
  static fromFile(
    model: TrainableModel,
    tokenizer: TextEncoder,
    file: string,
    opts: ForgettingOptions,
  ): ForgettingCheck {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      throw new TunebookError(
        `${file}: cannot read the held-out text; pretrain writes it beside the model`,
      );
    }
    return new ForgettingCheck(model, tokenizer, text, opts);
  }

  measure(): PerplexityResult {
    return textPerplexity(this.model, this.tokenizer, this.text, {
      contextLength: this.opts.contextLength,
      maxTokens: this.opts.maxTokens ?? 20_000,
      batchSize: this.opts.batchSize,
    });
  }

  /** Perplexity before fine-tuning. */
  start(): PerplexityResult {
    this.measured = this.measure();
    return this.measured;
  }

  /** Perplexity now, compared with start(). */
  finish(): ForgettingResult {
    if (this.measured === undefined) {
      throw new TunebookError("forgetting check: call start() before training, then finish()");
    }
    return compareForgetting(this.measured, this.measure());
  }
}

export function compareForgetting(
  before: PerplexityResult,
  after: PerplexityResult,
): ForgettingResult {
  const ratio = after.perplexity / before.perplexity;
  const change = (ratio - 1) * 100;
  const summary =
    `Perplexity on ${after.tokens} tokens of general held-out text went from ` +
    `${before.perplexity.toFixed(2)} before fine-tuning to ${after.perplexity.toFixed(2)} after ` +
    `(${change >= 0 ? "+" : ""}${change.toFixed(1)} %). ` +
    (ratio > 1.2
      ? "The model has forgotten some general language: use fewer epochs, a lower learning " +
        "rate or a smaller LoRA rank, or mix general text into the training data."
      : "General language ability is essentially unchanged.");
  return {
    before,
    after,
    ratio,
    charts: { perplexity: { x: ["before", "after"], y: [before.perplexity, after.perplexity] } },
    summary,
  };
}
