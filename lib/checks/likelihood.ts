// Log-likelihood of texts under a model: BOS + tokens, one forward pass per padded batch, the
// sum of log-probabilities of each next token. The base of the bias, canary and forgetting checks.
import * as tf from "@tensorflow/tfjs";
import { disposeBatch, type EncodedRow, makeBatch } from "../train/batches.js";
import type { TrainableModel } from "../train/run.js";

/** What scoring needs of a tokenizer. */
export interface TextEncoder {
  encode(text: string): number[];
  readonly bosId: number;
  readonly padId: number;
}

export interface LikelihoodOptions {
  batchSize?: number;
  /** Longest sequence the model takes (BOS included); longer texts are cut. */
  maxLength?: number;
}

/**
 * Sum of log p(token | previous tokens) over each text's tokens (BOS is given, not scored), and
 * the number of tokens scored.
 */
export function logLikelihoods(
  model: TrainableModel,
  tokenizer: TextEncoder,
  texts: readonly string[],
  opts: LikelihoodOptions = {},
): { logLikelihood: number[]; tokens: number[] } {
  const rows: EncodedRow[] = texts.map((t) => {
    const ids = [tokenizer.bosId, ...tokenizer.encode(t)].slice(0, opts.maxLength ?? Infinity);
    return { ids, lossMask: ids.map((_, i) => (i === 0 ? 0 : 1)) };
  });
  return scoreRows(model, rows, tokenizer.padId, opts.batchSize ?? 32);
}

/** Per-row sums of target log-probabilities where lossMask is 1. */
export function scoreRows(
  model: TrainableModel,
  rows: readonly EncodedRow[],
  padId: number,
  batchSize = 32,
): { logLikelihood: number[]; tokens: number[] } {
  const logLikelihood = new Array<number>(rows.length).fill(0);
  const tokens = rows.map((r) => r.lossMask.slice(1).reduce((a, b) => a + b, 0));
  // Similar lengths share a batch, so little padding is computed.
  const order = rows
    .map((_, i) => i)
    .filter((i) => rows[i].ids.length > 1)
    .sort((a, b) => rows[a].ids.length - rows[b].ids.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const chunk = order.slice(i, i + batchSize);
    const batch = makeBatch(
      chunk.map((j) => rows[j]),
      padId,
    );
    try {
      const sums = tf.tidy(() => {
        const logits = model.forward(batch.inputs, { attentionMask: batch.attentionMask });
        const logProbs = tf.logSoftmax(logits); // [B, T, V]
        const picked = logProbs.mul(tf.oneHot(batch.targets, logits.shape[2])).sum(-1); // [B, T]
        return picked.mul(batch.targetMask).sum(1); // [B]
      });
      const values = sums.dataSync() as Float32Array;
      sums.dispose();
      chunk.forEach((j, k) => (logLikelihood[j] = values[k]));
    } finally {
      disposeBatch(batch);
    }
  }
  return { logLikelihood, tokens };
}

export interface PerplexityResult {
  /** Mean negative log-likelihood per token (natural log). */
  loss: number;
  perplexity: number;
  tokens: number;
}

/**
 * Perplexity of a long text: tokenised once, cut into windows of the model's context (each
 * starting with BOS), every token scored once.
 */
export function textPerplexity(
  model: TrainableModel,
  tokenizer: TextEncoder,
  text: string,
  opts: { contextLength: number; maxTokens?: number; batchSize?: number },
): PerplexityResult {
  const ids = tokenizer.encode(text).slice(0, opts.maxTokens ?? Infinity);
  const window = opts.contextLength - 1;
  const rows: EncodedRow[] = [];
  for (let i = 0; i < ids.length; i += window) {
    const part = [tokenizer.bosId, ...ids.slice(i, i + window)];
    rows.push({ ids: part, lossMask: part.map((_, k) => (k === 0 ? 0 : 1)) });
  }
  const { logLikelihood, tokens } = scoreRows(model, rows, tokenizer.padId, opts.batchSize ?? 16);
  const n = tokens.reduce((a, b) => a + b, 0);
  const loss = -logLikelihood.reduce((a, b) => a + b, 0) / Math.max(1, n);
  return { loss, perplexity: Math.exp(loss), tokens: n };
}
