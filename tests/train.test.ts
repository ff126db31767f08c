// The training loop: schedule, optimizer, loss, batches, the run handle and checkpoints.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../lib/engine/backend.js";
import { AdamW } from "../lib/train/adamw.js";
import { epochOrder, makeBatch, Rng } from "../lib/train/batches.js";
import { loadCheckpoint, saveCheckpoint } from "../lib/train/checkpoint.js";
import { batchLossSum, maskedLossSum } from "../lib/train/loss.js";
import { meanLoss, meanLossAsync, TrainingRun } from "../lib/train/run.js";
import { learningRateAt } from "../lib/train/schedule.js";
import { loopOptions, tinyModel, tinyRows } from "./helpers/tiny.js";

beforeAll(async () => {
  await initBackend();
});

describe("learningRateAt", () => {
  const o = { learningRate: 1, warmupSteps: 10, totalSteps: 110, minLearningRateRatio: 0.1 };
  it.each([
    [0, 0.1],
    [4, 0.5],
    [9, 1],
    [10, 1],
    [60, 0.55],
    [110, 0.1],
  ])("step %i -> %f", (step, expected) => {
    expect(learningRateAt(step, o)).toBeCloseTo(expected, 6);
  });
});

describe("AdamW", () => {
  it("takes the bias-corrected first step and decays matrices only", () => {
    const w = tf.variable(tf.tensor2d([[1, -2]]));
    const gain = tf.variable(tf.tensor1d([3]));
    const opt = new AdamW(new Map([["w", w], ["gain", gain]]), {
      beta1: 0.9, beta2: 0.999, epsilon: 0, weightDecay: 0.5,
    });

    opt.apply(new Map([["w", tf.tensor2d([[0.5, -4]])], ["gain", tf.tensor1d([2])]]), 0.1);

    // First step: m̂ / sqrt(v̂) = sign(g); decoupled decay subtracts lr * wd * w.
    expect(Array.from(w.dataSync())).toEqual([
      expect.closeTo(1 - 0.1 - 0.1 * 0.5 * 1, 5),
      expect.closeTo(-2 + 0.1 - 0.1 * 0.5 * -2, 5),
    ]);
    expect(gain.dataSync()[0]).toBeCloseTo(3 - 0.1, 5);
    opt.dispose();
  });

  it("saves and restores its moments", () => {
    const w = tf.variable(tf.tensor1d([1, 2]));
    const a = new AdamW(new Map([["w", w]]));
    a.apply(new Map([["w", tf.tensor1d([0.3, -0.1])]]), 0.01);
    const b = new AdamW(new Map([["w", w]]));

    b.load(a.state());

    expect(b.step).toBe(1);
    expect(Array.from(b.state().moments.get("w")!.m)).toEqual(Array.from(a.state().moments.get("w")!.m));
  });
});

describe("maskedLossSum", () => {
  it("sums -log p(target) over masked positions only", () => {
    const logits = tf.tensor3d([[[0, 0, 0], [2, 0, 0]]]); // [1, 2, 3]
    const targets = tf.tensor2d([[1, 0]], [1, 2], "int32");
    const mask = tf.tensor2d([[1, 0]]);

    const loss = maskedLossSum(logits, targets, mask).dataSync()[0];

    expect(loss).toBeCloseTo(Math.log(3), 5);
  });

  it("has the gradient of the plain log-softmax form, large logits included", () => {
    const logits = tf.tensor3d([[[0.5, -1, 2, 40], [3, 0.1, -2, 1]], [[1, 1, 1, 1], [-30, 4, 0, 2]]]);
    const targets = tf.tensor2d([[3, 1], [0, 2]], [2, 2], "int32");
    const mask = tf.tensor2d([[1, 0.5], [0, 1]]);
    const plain = (x: tf.Tensor): tf.Scalar =>
      tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(tf.logSoftmax(x), tf.oneHot(targets, 4)), -1), mask)));

    const want = tf.valueAndGrad(plain)(logits);
    const got = tf.valueAndGrad((x: tf.Tensor) => maskedLossSum(x as tf.Tensor3D, targets, mask))(logits);

    expect(got.value.dataSync()[0]).toBeCloseTo(want.value.dataSync()[0], 4);
    const diff = tf.sub(got.grad, want.grad).abs().max().dataSync()[0];
    expect(diff).toBeLessThan(1e-6);
  });
});

describe("batchLossSum", () => {
  it("projects only trained positions, with the same loss and gradients as the full batch", () => {
    const model = tinyModel(3);
    const params = model.trainableVariables({ method: "full" });
    const batch = makeBatch(tinyRows(6), 0);
    const full = { ...batch, trained: null };

    const a = tf.variableGrads(() => batchLossSum(model, batch, false), [...params.values()]);
    const b = tf.variableGrads(() => batchLossSum(model, full, false), [...params.values()]);

    expect(batch.trained!.positions.shape[0]).toBe(12);
    expect(a.value.dataSync()[0]).toBeCloseTo(b.value.dataSync()[0], 4);
    for (const name of Object.keys(a.grads)) {
      const diff = tf.sub(a.grads[name], b.grads[name]).abs().max().dataSync()[0];
      expect(diff).toBeLessThan(1e-5);
    }
  });
});

describe("meanLossAsync", () => {
  it("gives meanLoss's value while letting timers run between batches", async () => {
    const model = tinyModel(4);
    const rows = tinyRows(40);
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 0);

    const sync = meanLoss(model, rows, 4, 0);
    const ticksBefore = ticks;
    const async = await meanLossAsync(model, rows, 4, 0);
    clearInterval(timer);

    expect(async).toBeCloseTo(sync, 6);
    expect(ticks).toBeGreaterThan(ticksBefore);
  });
});

describe("batches", () => {
  it("shifts targets by one and masks padding", () => {
    const batch = makeBatch(
      [
        { ids: [1, 5, 6, 2], lossMask: [0, 0, 1, 1] },
        { ids: [1, 7, 2], lossMask: [0, 1, 1] },
      ],
      0,
    );

    expect(batch.inputs.arraySync()).toEqual([[1, 5, 6], [1, 7, 0]]);
    expect(batch.targets.arraySync()).toEqual([[5, 6, 2], [7, 2, 0]]);
    expect(batch.targetMask.arraySync()).toEqual([[0, 1, 1], [1, 1, 0]]);
    expect(batch.attentionMask.arraySync()).toEqual([[1, 1, 1], [1, 1, 0]]);
    expect(batch.trainedTokens).toBe(4);
  });

  it("visits every row once per epoch, the same way for the same seed", () => {
    const rows = tinyRows(37);

    const a = epochOrder(rows, 4, new Rng(3));
    const b = epochOrder(rows, 4, new Rng(3));
    const c = epochOrder(rows, 4, new Rng(4));

    expect(a.flat().sort((x, y) => x - y)).toEqual(rows.map((_, i) => i));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe("TrainingRun", () => {
  it("lowers the loss and keeps the tensor count flat", async () => {
    const model = tinyModel();
    const rows = tinyRows(32);
    const run = new TrainingRun({
      model,
      params: model.trainableVariables({ method: "full" }),
      train: rows,
      validation: rows.slice(0, 8),
      options: loopOptions({ epochs: 8, learningRate: 3e-2 }),
    });
    const counts: number[] = [];
    run.on("step", () => counts.push(tf.memory().numTensors));

    const result = await run;

    expect(result.status).toBe("finished");
    expect(result.steps).toBe(64);
    expect(run.steps.at(-1)!.loss).toBeLessThan(run.steps[0].loss * 0.5);
    expect(run.evals.length).toBe(8);
    const firstEpoch = run.steps.slice(0, 8).map((s) => s.loss);
    expect(run.evals[0].trainLoss).toBeCloseTo(firstEpoch.reduce((a, b) => a + b) / 8, 6);
    expect(new Set(counts.slice(2)).size).toBe(1);
  });

  it("pauses, resumes, takes a new learning rate at the next step and stops", async () => {
    const model = tinyModel();
    const run = new TrainingRun({
      model,
      params: model.trainableVariables({ method: "full" }),
      train: tinyRows(64),
      validation: [],
      options: loopOptions({ epochs: 50 }),
    });
    await new Promise<void>((resolve) => run.on("step", (e) => e.step === 2 && resolve()));

    run.pause();
    const pausedAt = run.step;
    await new Promise((r) => setTimeout(r, 100));
    expect(run.step).toBe(pausedAt);
    run.set({ learningRate: 1e-4 });
    run.resume();
    await new Promise<void>((resolve) => run.on("step", (e) => e.step === pausedAt + 2 && resolve()));
    run.stop();
    const result = await run;

    expect(result.status).toBe("stopped");
    expect(run.steps[pausedAt].learningRate).toBeLessThan(1e-4 * 1.0001);
    // The change is applied (and recorded) at the first step after resuming.
    expect(run.changes.map((c) => c.action)).toEqual(["pause", "resume", "set", "stop"]);
    expect(run.changes.find((c) => c.action === "set")!.step).toBe(pausedAt);
  });

  it("keeps the logged loss scale under gradient accumulation", async () => {
    const rows = tinyRows(8);
    const first = async (batchSize: number, gradientAccumulation: number) => {
      const model = tinyModel(1);
      const run = new TrainingRun({
        model,
        params: model.trainableVariables({ method: "full" }),
        train: rows,
        validation: [],
        options: loopOptions({ batchSize, gradientAccumulation, maxSteps: 1 }),
      });
      await run;
      return run.steps[0].loss;
    };

    const whole = await first(8, 1);
    const accumulated = await first(2, 4);

    expect(accumulated).toBeCloseTo(whole, 4);
  });

  it("rejects unknown live settings with a clear message", () => {
    const model = tinyModel();
    const run = new TrainingRun({
      model,
      params: model.trainableVariables({ method: "full" }),
      train: tinyRows(4),
      validation: [],
      options: loopOptions(),
    });

    expect(() => run.set({ learningRat: 1 } as never)).toThrow(/unknown setting "learningRat"/);
    run.stop();
  });
});

describe("checkpoints", () => {
  it("resume continues the same loss curve", async () => {
    const rows = tinyRows(24);
    const options = loopOptions({ epochs: 2, batchSize: 4 }); // 12 steps
    const straight = tinyModel(5);
    const full = new TrainingRun({
      model: straight,
      params: straight.trainableVariables({ method: "full" }),
      train: rows,
      validation: [],
      options,
    });
    await full;

    const dir = path.join(mkdtempSync(path.join(tmpdir(), "tb-ckpt-")), "step-7");
    const first = tinyModel(5);
    const firstParams = first.trainableVariables({ method: "full" });
    const part = new TrainingRun({
      model: first,
      params: firstParams,
      train: rows,
      validation: [],
      options,
    });
    part.on("step", (e) => {
      if (e.step === 7) {
        part.stop();
      }
    });
    await part;
    await saveCheckpoint(dir, firstParams, part.optimizer, { method: { method: "full" }, loop: part.snapshot() });

    const second = tinyModel(99); // different start: the checkpoint must overwrite it
    const secondParams = second.trainableVariables({ method: "full" });
    const resumed = new TrainingRun({
      model: second,
      params: secondParams,
      train: rows,
      validation: [],
      options,
      restore: async () => {
        const loaded = await loadCheckpoint(dir, secondParams);
        return { optimizer: loaded.optimizerState, loop: loaded.info.loop };
      },
    });
    await resumed;

    const expected = full.steps.map((s) => s.loss);
    const got = resumed.steps.map((s) => s.loss);
    expect(got.length).toBe(12);
    for (let i = 0; i < 12; i++) expect(got[i]).toBeCloseTo(expected[i], 4);
  });
});
