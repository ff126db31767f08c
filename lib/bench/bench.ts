// `tunebook bench`: training and generation speed, memory and tensor counts for fixed cases, so
// speed is measured by a benchmark and never asserted in tests.
import * as tf from "@tensorflow/tfjs";
import { describeBackend, initBackend } from "../engine/backend.js";
import { TunebookError } from "../errors.js";
import type { LlamaConfig } from "../model/config.js";
import { generate } from "../model/generate.js";
import { LlamaModel } from "../model/llama.js";
import { AdamW } from "../train/adamw.js";
import { disposeBatch, type EncodedRow, makeBatch, Rng } from "../train/batches.js";
import { batchLossSum } from "../train/loss.js";
import { estimateTrainingMemory } from "../train/memory.js";
import { measurePeakBytes } from "../engine/memory.js";

export const BENCH_CASES = ["toy", "base-lora", "base-full"] as const;
export type BenchCase = (typeof BENCH_CASES)[number];

export interface BenchResult {
  case: BenchCase;
  backend: string;
  parameters: number;
  trainable_parameters: number;
  batch: number;
  sequence: number;
  step_ms: number;
  train_tokens_per_s: number;
  generate_tokens_per_s: number;
  peak_rss_mb: number;
  /** Most bytes held in tensors during one training step, measured. */
  peak_tensor_mb: number;
  /** The same, as estimateTrainingMemory predicts it before a run. */
  estimated_mb: number;
  tensors_before: number;
  tensors_after: number;
}

/** The toy configuration of issue 6, shared with the PyTorch reference script. */
export const TOY: LlamaConfig = {
  hiddenSize: 64,
  intermediateSize: 256,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 4,
  headDim: 16,
  vocabSize: 512,
  maxPositions: 256,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  eosTokenId: 2,
};

interface CaseSetup {
  model: LlamaModel;
  method: "lora" | "full";
  batch: number;
  sequence: number;
  /** Train only the last `answer` targets of each row, as instruction tuning does (0: all). */
  answer: number;
}

async function setup(name: BenchCase, baseDir: string): Promise<CaseSetup> {
  if (name === "toy") return { model: LlamaModel.random(TOY, 0), method: "full", batch: 8, sequence: 128, answer: 0 };
  const model = await LlamaModel.load(baseDir);
  if (name === "base-lora") {
    model.addLora({ r: 16, alpha: 32, dropout: 0, targetModules: ["all-linear"] });
    // The demo's shape: 32 short support messages, a few answer tokens each.
    return { model, method: "lora", batch: 32, sequence: 24, answer: 6 };
  }
  return { model, method: "full", batch: 16, sequence: 128, answer: 0 };
}

/** Runs one case: `steps` measured training steps after `warmup`, then KV-cached generation. */
export async function runBench(
  name: BenchCase,
  opts: { baseDir: string; steps?: number; warmup?: number },
): Promise<BenchResult> {
  if (!BENCH_CASES.includes(name)) {
    throw new TunebookError(`bench: unknown case "${name}"; use ${BENCH_CASES.join(", ")}`);
  }
  await initBackend();
  const steps = opts.steps ?? 8;
  const warmup = opts.warmup ?? 2;
  const { model, method, batch, sequence, answer } = await setup(name, opts.baseDir);
  const { step, optimizer, trainable, rows } = trainingStep(model, method, batch, sequence, answer);
  let peak = process.memoryUsage().rss;
  // Counted after the first warm-up step, which makes the model's lasting tables (rotary, mask).
  let tensorsBefore = 0;

  // Training: the same step the run loop takes (forward, backward, AdamW).
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const started = performance.now();
    step();
    if (i >= warmup) times.push(performance.now() - started);
    if (i === 0) tensorsBefore = tf.memory().numTensors;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const peakTensorBytes = measurePeakBytes(step).peakBytes;
  const estimate = estimateTrainingMemory(model.config, {
    method,
    lora: model.loraConfig ?? undefined,
    batchSize: batch,
    sequence,
    trainedPerRow: answer === 0 ? undefined : answer,
  });
  const tensorsAfter = tf.memory().numTensors;
  const stepMs = median(times);

  // Generation with the KV cache: 8 prompts of 16 tokens, 32 new tokens each.
  const prompts = rows.slice(0, 8).map((r) => r.ids.slice(0, 16));
  generate(model, prompts, { maxNewTokens: 4, greedy: true, eosTokenId: null });
  const genStart = performance.now();
  generate(model, prompts, { maxNewTokens: 32, greedy: true, eosTokenId: null });
  const genSeconds = (performance.now() - genStart) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);

  const result: BenchResult = {
    case: name,
    backend: describeBackend(),
    parameters: model.numParameters(),
    trainable_parameters: trainable,
    batch,
    sequence,
    step_ms: round(stepMs),
    train_tokens_per_s: round((batch * sequence) / (stepMs / 1000)),
    generate_tokens_per_s: round((prompts.length * 32) / genSeconds),
    peak_rss_mb: round(peak / 2 ** 20),
    peak_tensor_mb: round(peakTensorBytes / 2 ** 20),
    estimated_mb: round(estimate.total / 2 ** 20),
    tensors_before: tensorsBefore,
    tensors_after: tensorsAfter,
  };
  optimizer.dispose();
  model.dispose();
  return result;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * One training step (forward, backward, AdamW) on fixed random rows, as the run loop takes it:
 * `answer` > 0 trains only the last `answer` targets of each row, as instruction tuning does.
 */
export function trainingStep(
  model: LlamaModel, method: "lora" | "full" | "freeze", batch: number, sequence: number,
  answer: number, freezeLayers = 0,
): { step: () => void; optimizer: AdamW; trainable: number; rows: EncodedRow[] } {
  const params = model.trainableVariables({ method, freezeLayers });
  const optimizer = new AdamW(params);
  const rng = new Rng(1);
  const vocab = model.config.vocabSize;
  const rows: EncodedRow[] = Array.from({ length: batch }, () => {
    const ids = Array.from({ length: sequence + 1 }, () => 3 + Math.floor(rng.next() * (vocab - 3)));
    const firstTrained = answer === 0 ? 1 : sequence - answer + 1;
    const lossMask = ids.map((_, i) => (i >= firstTrained ? 1 : 0));
    return { ids, lossMask };
  });
  const varList = [...params.values()];
  const names = [...params.keys()];
  const step = (): void => {
    const b = makeBatch(rows, 0);
    const { value, grads } = tf.variableGrads(() => batchLossSum(model, b, true), varList);
    value.dataSync();
    const byName = new Map(names.map((n, k) => [n, grads[varList[k].name]]));
    optimizer.apply(byName, 1e-4);
    tf.dispose([value, ...Object.values(grads)]);
    disposeBatch(b);
  };
  return { step, optimizer, trainable: varList.reduce((n, v) => n + v.size, 0), rows };
}
