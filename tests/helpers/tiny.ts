// Tiny models and data for fast training tests.
import type { LlamaConfig } from "../../lib/model/config.js";
import { LlamaModel } from "../../lib/model/llama.js";
import type { EncodedRow } from "../../lib/train/batches.js";
import type { LoopOptions } from "../../lib/train/run.js";

export const TINY: LlamaConfig = {
  hiddenSize: 16,
  intermediateSize: 32,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  vocabSize: 32,
  maxPositions: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieWordEmbeddings: true,
  bosTokenId: 1,
  eosTokenId: 2,
};

export function tinyModel(seed = 0): LlamaModel {
  return LlamaModel.random(TINY, seed);
}

/** Rows that map a prompt token to a fixed answer: learnable in a few dozen steps. */
export function tinyRows(n: number): EncodedRow[] {
  return Array.from({ length: n }, (_, i) => {
    const prompt = [1, 3 + (i % 8), 4 + ((i * 3) % 7)];
    const answer = [20 + (i % 8), 2];
    return {
      ids: [...prompt, ...answer],
      lossMask: [...prompt.map(() => 0), ...answer.map(() => 1)],
    };
  });
}

export function loopOptions(over: Partial<LoopOptions> = {}): LoopOptions {
  return {
    epochs: 1,
    batchSize: 4,
    gradientAccumulation: 1,
    learningRate: 1e-2,
    warmupRatio: 0,
    minLearningRateRatio: 0.1,
    weightDecay: 0,
    maxGradNorm: 1,
    evalEvery: 0,
    maxSteps: 0,
    seed: 7,
    padId: 0,
    ...over,
  };
}
