// Batched text generation at the token-id level: left-padded prompts, then one token per step
// through the KV cache; greedy or sampled (temperature, top-k) with a seeded generator.
import * as tf from "@tensorflow/tfjs";
import { mulberry32 } from "../data/random.js";

import { TunebookError } from "../errors.js";
import type { KVCache } from "./kv-cache.js";
import type { LlamaModel } from "./llama.js";

export interface GenerateOptions {
  /** Most tokens to add to each prompt. */
  maxNewTokens: number;
  /** Pick the most likely token each step (default when no temperature is given). */
  greedy?: boolean;
  /** Sampling temperature; > 0 samples unless greedy is true, 0 means greedy. */
  temperature?: number;
  /** Sample only among the k most likely tokens (0 or unset: all). */
  topK?: number;
  /** A row stops when it produces this id (not returned); null never stops early.
   *  Default: the model config's eos_token_id. */
  eosTokenId?: number | null;
  /** Seed for sampling, so runs repeat. */
  seed?: number;
}

/**
 * Continues each prompt; returns only the new tokens of each row. A row that produces
 * eosTokenId stops there and the eos id itself is left out of its result.
 */
export function generate(
  model: LlamaModel,
  prompts: number[][],
  opts: GenerateOptions,
): number[][] {
  const cfg = model.config;
  const B = prompts.length;
  if (B === 0) return [];
  checkOptions(prompts, opts, cfg.vocabSize, cfg.maxPositions);

  const eos = opts.eosTokenId === undefined ? cfg.eosTokenId : opts.eosTokenId;
  const temperature = opts.temperature ?? 0;
  const greedy = opts.greedy === true || temperature === 0;
  const rand = mulberry32(opts.seed ?? 0);
  const pick = (row: Float32Array): number =>
    greedy ? argmax(row) : sample(row, temperature, opts.topK ?? 0, rand);

  // Left-pad so every row's last prompt token sits in the last column.
  const T = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(B * T);
  const mask = new Float32Array(B * T);
  prompts.forEach((p, b) => {
    ids.set(p, b * T + T - p.length);
    mask.fill(1, b * T + T - p.length, (b + 1) * T);
  });

  const out: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(B).fill(false);
  const cache = model.createCache(B);
  try {
    const promptIds = tf.tensor2d(ids, [B, T], "int32");
    let logits = lastLogits(model, promptIds, tf.tensor2d(mask, [B, T]), cache);
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const V = cfg.vocabSize;
      const next = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        const tok = done[b] ? 0 : pick(logits.subarray(b * V, (b + 1) * V));
        next[b] = tok;
        if (done[b]) continue;
        if (eos !== null && tok === eos) done[b] = true;
        else out[b].push(tok);
      }
      if (done.every((d) => d) || step === opts.maxNewTokens - 1) break;
      logits = lastLogits(model, tf.tensor2d(next, [B, 1], "int32"), tf.ones([B, 1]), cache);
    }
  } finally {
    cache.dispose();
  }
  return out;
}

/** Runs ids through the model and returns the last position's logits [B * V], freeing tensors. */
function lastLogits(
  model: LlamaModel,
  ids: tf.Tensor2D,
  mask: tf.Tensor2D,
  cache: KVCache,
): Float32Array {
  try {
    const logits = model.forward(ids, { attentionMask: mask, cache, lastOnly: true });
    try {
      return logits.dataSync() as Float32Array;
    } finally {
      logits.dispose();
    }
  } finally {
    ids.dispose();
    mask.dispose();
  }
}

function checkOptions(prompts: number[][], opts: GenerateOptions, V: number, maxPos: number): void {
  if (!Number.isSafeInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) {
    throw new TunebookError(`maxNewTokens is ${opts.maxNewTokens}; use a whole number >= 0`);
  }
  if (opts.temperature !== undefined && !(opts.temperature >= 0)) {
    throw new TunebookError(`temperature is ${opts.temperature}; use a number >= 0`);
  }
  prompts.forEach((p, i) => {
    if (p.length === 0) {
      throw new TunebookError(`prompt ${i} is empty; give at least one token (BOS)`);
    }
    const bad = p.find((t) => !Number.isSafeInteger(t) || t < 0 || t >= V);
    if (bad !== undefined) {
      throw new TunebookError(
        `prompt ${i} holds token id ${bad}, outside the vocabulary 0..${V - 1}`,
      );
    }
    if (p.length + opts.maxNewTokens > maxPos) {
      throw new TunebookError(
        `prompt ${i} (${p.length} tokens) plus ${opts.maxNewTokens} new tokens exceeds the ` +
          `model's ${maxPos} positions; lower maxNewTokens or shorten the prompt`,
      );
    }
  });
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function sample(row: Float32Array, temperature: number, topK: number, rand: () => number): number {
  let order = Array.from(row.keys());
  if (topK > 0 && topK < row.length) {
    order.sort((a, b) => row[b] - row[a]);
    order = order.slice(0, topK);
  }
  let max = -Infinity;
  for (const i of order) max = Math.max(max, row[i]);
  const weights = order.map((i) => Math.exp((row[i] - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rand() * total;
  for (let j = 0; j < order.length; j++) {
    u -= weights[j];
    if (u < 0) return order[j];
  }
  return order[order.length - 1];
}

