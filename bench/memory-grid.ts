// Measures the peak tensor memory of one training step over a grid of small model shapes,
// methods and batches, one JSON line each, for bench/memory-fit.py to fit lib/train/memory.ts's
// coefficients. Run: npx tsx bench/memory-grid.ts > grid.jsonl
import { trainingStep } from "../lib/bench/bench.js";
import { initBackend } from "../lib/engine/backend.js";
import { measurePeakBytes } from "../lib/engine/memory.js";
import type { LlamaConfig } from "../lib/model/config.js";
import { LlamaModel } from "../lib/model/llama.js";

const BASE: LlamaConfig = {
  hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 4, headDim: 16,
  vocabSize: 512, maxPositions: 256, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: false,
  bosTokenId: 1, eosTokenId: 2,
};
const SHAPES: LlamaConfig[] = [
  BASE,
  { ...BASE, hiddenSize: 128, headDim: 32 },
  { ...BASE, intermediateSize: 512 },
  { ...BASE, numLayers: 4 },
  { ...BASE, vocabSize: 2048 },
  { ...BASE, numKvHeads: 2 },
];
const BATCHES = [[4, 32], [8, 64], [4, 128], [16, 32]];
const TARGETS = [
  ["all-linear"], ["q_proj", "v_proj"], ["gate_proj", "up_proj", "down_proj"],
  ["q_proj", "k_proj", "v_proj", "o_proj"],
];

interface Plan {
  method: "lora" | "full" | "freeze";
  freezeLayers?: number;
  r?: number;
  targets?: string[];
  dropout?: number;
}

function measure(config: LlamaConfig, plan: Plan, batch: number, sequence: number): void {
  const model = LlamaModel.random(config, 0);
  if (plan.method === "lora") {
    const r = plan.r!;
    model.addLora({ r, alpha: 2 * r, dropout: plan.dropout ?? 0, targetModules: plan.targets! });
  }
  const { step, optimizer, trainable } =
    trainingStep(model, plan.method, batch, sequence, 0, plan.freezeLayers);
  step();
  const rest = measurePeakBytes(() => undefined).peakBytes;
  const { peakBytes } = measurePeakBytes(step);
  console.log(JSON.stringify({
    ...config, ...plan, B: batch, T: sequence, answer: 0, params: model.numParameters(), trainable,
    rest, peak: peakBytes,
  }));
  optimizer.dispose();
  model.dispose();
}

await initBackend();
for (const [B, T] of BATCHES) {
  for (const shape of SHAPES) {
    measure(shape, { method: "full" }, B, T);
    for (const targets of TARGETS) measure(shape, { method: "lora", r: 8, targets }, B, T);
    measure(shape, { method: "lora", r: 32, targets: ["all-linear"], dropout: 0.1 }, B, T);
  }
  for (const shape of SHAPES.slice(0, 4)) {
    for (const k of [1, 2]) measure(shape, { method: "freeze", freezeLayers: k }, B, T);
  }
}
