// How much memory a training step takes, estimated before the run from the model's shape, the
// method and the batch, so a run that cannot fit is flagged before it starts.
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { TunebookError } from "../errors.js";
import type { LlamaConfig } from "../model/config.js";
import { type LinearModule, resolveTargets } from "../model/lora.js";

export interface MemoryPlan {
  method: "lora" | "full" | "freeze";
  /** With "freeze": how many of the first layers stay fixed. */
  freezeLayers?: number;
  /** With "lora": the adapter rank and target modules ("all-linear" allowed). */
  lora?: { r: number; targetModules: string[] };
  batchSize: number;
  /** Tokens per row fed to the model (the longest padded row). */
  sequence: number;
  /** Positions per row that carry a loss (instruction tuning trains only answers); default all. */
  trainedPerRow?: number;
}

/** Bytes, by what holds them. */
export interface MemoryEstimate {
  weights: number;
  optimizer: number;
  gradients: number;
  activations: number;
  total: number;
}

// Float32 numbers held per unit of each term at a step's peak, measured on this implementation
// (forward, backward and AdamW), fitted by least squares to 56 full or partly frozen and 120 LoRA
// runs of small models (bench/memory-grid.ts, bench/memory-fit.py) and checked on other shapes
// and the shipped base by tests/memory.test.ts, which fails when a model change moves them.
// They are large because tfjs keeps every intermediate gradient of a step until the step ends.
// N is tokens in the batch, D the hidden size, I the MLP width, Q the query-key-value width,
// H·T·S the attention scores, V the vocabulary.
const TRAINED_LAYER = { nd: 27.5, ni: 5.9, scores: 3.0, nq: 3.6 };
const FROZEN_LAYER = { nd: 0, ni: 3.0, scores: 1.0, nq: 5.7 };
const LORA_LAYER = { nd: 0, ni: 7.1, scores: 2.7, nq: 7.7 };
// Per adapted linear layer: its input width per token, and its rank per token.
const LORA_ADAPTER = { nIn: 6.6, nRank: 15.8 };
const HEAD = { full: 4.1, lora: 3.7 };
// Gradient-sized tensors per trainable number (the gradients, their clipped and summed forms).
const GRADIENT_COPIES = { full: 1.1, lora: 7.0 };

const BYTES = 4;

/** [in, out] widths of each linear layer in a decoder layer. */
function linearShapes(c: LlamaConfig): Record<LinearModule, [number, number]> {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  return {
    q_proj: [c.hiddenSize, q],
    k_proj: [c.hiddenSize, kv],
    v_proj: [c.hiddenSize, kv],
    o_proj: [q, c.hiddenSize],
    gate_proj: [c.hiddenSize, c.intermediateSize],
    up_proj: [c.hiddenSize, c.intermediateSize],
    down_proj: [c.intermediateSize, c.hiddenSize],
  };
}

/** Parameters of the base model: embeddings, layers, final norm and (untied) head. */
export function countParameters(c: LlamaConfig): number {
  const linears = Object.values(linearShapes(c)).reduce((n, [i, o]) => n + i * o, 0);
  const layer = linears + 2 * c.hiddenSize;
  const embed = c.vocabSize * c.hiddenSize;
  return embed + c.numLayers * layer + c.hiddenSize + (c.tieWordEmbeddings ? 0 : embed);
}

/** Estimated peak memory of one training step. */
export function estimateTrainingMemory(config: LlamaConfig, plan: MemoryPlan): MemoryEstimate {
  const c = config;
  const B = plan.batchSize;
  const T = plan.sequence;
  const N = B * T;
  const trainedTokens = B * Math.min(T, plan.trainedPerRow ?? T);
  const Q = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  const perLayer = (k: { nd: number; ni: number; scores: number; nq: number }): number =>
    k.nd * N * c.hiddenSize + k.ni * N * c.intermediateSize + k.scores * B * c.numHeads * T * T +
    k.nq * N * Q;

  const base = countParameters(c);
  let params = base;
  let trainable: number;
  let activations: number;
  if (plan.method === "lora") {
    if (plan.lora === undefined) {
      throw new Error("estimateTrainingMemory: lora needs r and targetModules");
    }
    const { r } = plan.lora;
    const shapes = linearShapes(c);
    const targets = resolveTargets({ ...plan.lora, alpha: 1, dropout: 0 });
    const adapterParams = targets.reduce((n, m) => n + r * (shapes[m][0] + shapes[m][1]), 0);
    const adapterIn = targets.reduce((n, m) => n + shapes[m][0], 0);
    trainable = c.numLayers * adapterParams;
    params += trainable;
    const adapters = LORA_ADAPTER.nIn * N * adapterIn + LORA_ADAPTER.nRank * N * r * targets.length;
    activations = c.numLayers * (perLayer(LORA_LAYER) + adapters) +
      HEAD.lora * trainedTokens * c.vocabSize;
    return finish(params, trainable, activations, GRADIENT_COPIES.lora);
  }
  const frozen = plan.method === "freeze" ? (plan.freezeLayers ?? 0) : 0;
  const layerParams =
    countParameters({ ...c, numLayers: 1 }) - countParameters({ ...c, numLayers: 0 });
  trainable = plan.method === "full"
    ? base
    : base - c.vocabSize * c.hiddenSize - frozen * layerParams;
  activations = (c.numLayers - frozen) * perLayer(TRAINED_LAYER) +
    frozen * perLayer(FROZEN_LAYER) + HEAD.full * trainedTokens * c.vocabSize;
  return finish(params, trainable, activations, GRADIENT_COPIES.full);
}

function finish(
  params: number, trainable: number, activations: number, copies: number,
): MemoryEstimate {
  const weights = params * BYTES;
  const optimizer = 2 * trainable * BYTES; // AdamW's two moments
  const gradients = copies * trainable * BYTES;
  const acts = activations * BYTES;
  const total = weights + optimizer + gradients + acts;
  return { weights, optimizer, gradients, activations: acts, total };
}

const WASM_HEAP = 4294901760;

/**
 * The most tensor memory a run may use: TUNEBOOK_MEMORY_LIMIT_MB when set (never above wasm's
 * heap on wasm), else what the backend can hold. `hard` when going past it fails the run
 * (wasm's 4 GiB heap) rather than slowing it (RAM, which can swap).
 */
export function memoryLimit(): { bytes: number; what: string; hard: boolean } {
  const mb = memoryLimitSetting();
  const wasm = tf.getBackend() === "wasm";
  if (mb !== undefined && (!wasm || mb * 2 ** 20 < WASM_HEAP)) {
    return { bytes: mb * 2 ** 20, what: `TUNEBOOK_MEMORY_LIMIT_MB (${mb} MB)`, hard: false };
  }
  if (wasm) return { bytes: WASM_HEAP, what: "the wasm backend's 4 GiB heap", hard: true };
  return {
    bytes: os.totalmem(), what: `this machine's ${formatBytes(os.totalmem())} of RAM`, hard: false,
  };
}

/** TUNEBOOK_MEMORY_LIMIT_MB in megabytes, checked; undefined when not set. */
export function memoryLimitSetting(): number | undefined {
  const raw = process.env.TUNEBOOK_MEMORY_LIMIT_MB?.trim();
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0) {
    throw new TunebookError(
      `TUNEBOOK_MEMORY_LIMIT_MB=${raw} must be a positive number of megabytes, e.g. 2048`,
    );
  }
  return Number(raw);
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GB`;
  return `${Math.round(n / 2 ** 20)} MB`;
}

/** One line: "about 1.4 GB (weights 5 MB, optimizer 10 MB, gradients 19 MB, activations ...)". */
export function describeEstimate(e: MemoryEstimate): string {
  return `about ${formatBytes(e.total)} (weights ${formatBytes(e.weights)}, optimizer ` +
    `${formatBytes(e.optimizer)}, gradients ${formatBytes(e.gradients)}, activations ` +
    `${formatBytes(e.activations)})`;
}
