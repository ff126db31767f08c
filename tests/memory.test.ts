// The memory estimator against measured peaks, on shapes it was not fitted to and on the shipped
// base; and the parameter count it starts from against real models.
import { beforeAll, describe, expect, it } from "vitest";

import { trainingStep } from "../lib/bench/bench.js";
import { initBackend } from "../lib/engine/backend.js";
import { measurePeakBytes } from "../lib/engine/memory.js";
import type { LlamaConfig } from "../lib/model/config.js";
import { LlamaModel } from "../lib/model/llama.js";
import { countParameters, describeEstimate, estimateTrainingMemory } from "../lib/train/memory.js";

const BASE = "models/tunebook-base";

// Unlike every configuration the coefficients were fitted on: odd widths, 3 heads sharing one
// key/value head, a tied head, 3 layers.
const ODD: LlamaConfig = {
  hiddenSize: 96, intermediateSize: 200, numLayers: 3, numHeads: 3, numKvHeads: 1, headDim: 32,
  vocabSize: 700, maxPositions: 128, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: true,
  bosTokenId: 1, eosTokenId: 2,
};

beforeAll(async () => {
  await initBackend();
});

/** Measured peak tensor bytes of one training step, after a first step has warmed it up. */
function measure(
  model: LlamaModel, method: "lora" | "full" | "freeze", batch: number, sequence: number,
  answer: number, freezeLayers = 0,
): number {
  const { step, optimizer } = trainingStep(model, method, batch, sequence, answer, freezeLayers);
  step();
  const { peakBytes } = measurePeakBytes(step);
  optimizer.dispose();
  return peakBytes;
}

function expectWithin(estimate: number, measured: number, share: number): void {
  expect(Math.abs(estimate - measured) / measured).toBeLessThan(share);
}

describe("countParameters", () => {
  it("counts what the shipped base and a random untied model hold", async () => {
    const base = await LlamaModel.load(BASE);
    expect(countParameters(base.config)).toBe(base.numParameters());
    const untied = LlamaModel.random({ ...ODD, tieWordEmbeddings: false }, 0);
    expect(countParameters(untied.config)).toBe(untied.numParameters());
    base.dispose();
    untied.dispose();
  });
});

describe("estimateTrainingMemory", () => {
  it("is within 20 % of the measured peak for full, frozen and LoRA steps on unseen shapes", () => {
    const cases = [
      { method: "full" as const, batch: 6, sequence: 40, answer: 0 },
      { method: "freeze" as const, batch: 5, sequence: 56, answer: 0, freezeLayers: 1 },
      { method: "lora" as const, batch: 6, sequence: 40, answer: 0, r: 4,
        targets: ["q_proj", "v_proj"] },
      { method: "lora" as const, batch: 12, sequence: 30, answer: 8, r: 12,
        targets: ["all-linear"] },
    ];
    for (const c of cases) {
      const model = LlamaModel.random(ODD, 1);
      if (c.method === "lora") {
        model.addLora({ r: c.r!, alpha: 2 * c.r!, dropout: 0, targetModules: c.targets! });
      }
      const measured = measure(model, c.method, c.batch, c.sequence, c.answer, c.freezeLayers);
      const estimate = estimateTrainingMemory(ODD, {
        method: c.method,
        freezeLayers: c.freezeLayers,
        lora: c.method === "lora" ? { r: c.r!, targetModules: c.targets! } : undefined,
        batchSize: c.batch,
        sequence: c.sequence,
        trainedPerRow: c.answer === 0 ? undefined : c.answer,
      });
      expectWithin(estimate.total, measured, 0.2);
      model.dispose();
    }
  });

  it("is within 20 % on the shipped base, LoRA as the demo trains it and full", async () => {
    const lora = await LlamaModel.load(BASE);
    lora.addLora({ r: 16, alpha: 32, dropout: 0, targetModules: ["all-linear"] });
    const loraMeasured = measure(lora, "lora", 32, 24, 6);
    const loraEstimate = estimateTrainingMemory(lora.config, {
      method: "lora", lora: { r: 16, targetModules: ["all-linear"] }, batchSize: 32, sequence: 24,
      trainedPerRow: 6,
    });
    expectWithin(loraEstimate.total, loraMeasured, 0.2);
    lora.dispose();

    const full = await LlamaModel.load(BASE);
    const fullMeasured = measure(full, "full", 4, 96, 0);
    const fullEstimate = estimateTrainingMemory(full.config, {
      method: "full", batchSize: 4, sequence: 96,
    });
    expectWithin(fullEstimate.total, fullMeasured, 0.2);
    full.dispose();
  });

  it("splits the total into its parts and describes them in one line", () => {
    const e = estimateTrainingMemory(ODD, { method: "full", batchSize: 2, sequence: 16 });
    const params = countParameters(ODD);
    expect(e.weights).toBe(4 * params);
    expect(e.optimizer).toBe(8 * params);
    expect(e.total).toBe(e.weights + e.optimizer + e.gradients + e.activations);
    const bigger = estimateTrainingMemory(ODD, { method: "full", batchSize: 4, sequence: 16 });
    expect(bigger.activations).toBeCloseTo(2 * e.activations, -3);
    expect(describeEstimate(e)).toMatch(
      /^about \d+ MB \(weights \d+ MB, optimizer \d+ MB, gradients \d+ MB, activations \d+ MB\)$/,
    );
  });
});
