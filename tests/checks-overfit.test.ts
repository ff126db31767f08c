// Overfitting monitor on a tiny run whose validation answers contradict the training ones, so
// validation loss rises as training goes on; forgetting and memorisation on a tiny text model.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ForgettingCheck } from "../lib/checks/forgetting.js";
import { textPerplexity } from "../lib/checks/likelihood.js";
import { memorisation } from "../lib/checks/memorisation.js";
import { OverfitMonitor, type OverfitWarning } from "../lib/checks/overfit.js";
import { encodeAll } from "../lib/data/encode.js";
import type { Example } from "../lib/data/records.js";
import { initBackend } from "../lib/engine/backend.js";
import type { EncodedRow } from "../lib/train/batches.js";
import { meanLoss, TrainingRun } from "../lib/train/run.js";
import { loopOptions, tinyModel, tinyRows } from "./helpers/tiny.js";
import { textModel, textRow, textTokenizer } from "./helpers/text-model.js";

beforeAll(async () => {
  await initBackend();
});

/** Same prompts as tinyRows, other answers: what the training set teaches is wrong here. */
function contradictingRows(n: number): EncodedRow[] {
  return tinyRows(n).map((r) => ({
    ...r,
    ids: [...r.ids.slice(0, 3), 20 + ((r.ids[3] - 20 + 3) % 8), 2],
  }));
}

describe("OverfitMonitor", () => {
  it("warns, stops early and puts back the best weights", async () => {
    const model = tinyModel(0);
    const params = model.trainableVariables({ method: "full" });
    const validation = contradictingRows(16);
    const warnings: OverfitWarning[] = [];
    const before = tf.memory().numTensors;

    const run = new TrainingRun({
      model,
      params,
      train: tinyRows(16),
      validation,
      options: loopOptions({ epochs: 30, evalEvery: 1, learningRate: 2e-2 }),
    });
    const monitor = OverfitMonitor.attach(run, {
      patience: 3,
      earlyStop: true,
      params,
      onWarning: (w) => warnings.push(w),
    });
    const result = await run;
    const r = monitor.result();

    expect(result.status).toBe("stopped");
    expect(warnings).toHaveLength(1);
    expect(r.stoppedEarly).toBe(true);
    expect(r.restoredStep).toBe(r.best!.step);
    expect(r.best!.step).toBeLessThan(result.steps);
    expect(meanLoss(model, validation, 16, 0)).toBeCloseTo(r.best!.validationLoss, 4);
    expect(r.epochs.length).toBeGreaterThan(0);
    expect(r.epochs[0].gap).toBeCloseTo(r.epochs[0].validationLoss - r.epochs[0].trainLoss, 10);
    expect(r.summary).toContain("stopped early");
    monitor.detach();
    run.optimizer.dispose();
    model.releaseDecodingCopies();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 3); // rotary tables stay cached
    model.dispose();
  });

  it("does not warn while validation loss falls", async () => {
    const model = tinyModel(0);
    const run = new TrainingRun({
      model,
      params: model.trainableVariables({ method: "full" }),
      train: tinyRows(16),
      validation: tinyRows(8),
      options: loopOptions({ epochs: 3 }),
    });
    const monitor = OverfitMonitor.attach(run, { patience: 2 });

    await run;

    expect(monitor.result().warnings).toEqual([]);
    expect(monitor.result().epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(monitor.result().summary).toContain("no sign of overfitting");
    model.dispose();
  });
});

describe("forgetting", () => {
  it("reports a higher held-out perplexity after training on other text", async () => {
    const tok = textTokenizer();
    const model = textModel(tok, 4);
    const general = "the cat sat on the mat. she went to the market and he stayed home. ".repeat(6);
    const check = new ForgettingCheck(model, tok, general, { contextLength: 96 });
    const rows = Array.from({ length: 8 }, () =>
      textRow(tok, "zq zq zq zq xv xv xv 0 0 0 0 9 9 9"),
    );

    const before = check.start();
    await new TrainingRun({
      model,
      params: model.trainableVariables({ method: "full" }),
      train: rows,
      validation: [],
      options: loopOptions({ epochs: 20, batchSize: 8, padId: tok.padId }),
    });
    const r = check.finish();

    expect(before.tokens).toBe(textPerplexity(model, tok, general, { contextLength: 96 }).tokens);
    expect(r.ratio).toBeGreaterThan(1);
    expect(r.charts.perplexity.y).toEqual([r.before.perplexity, r.after.perplexity]);
    model.dispose();
  });
});

describe("memorisation", () => {
  it("finds training answers reproduced verbatim, not validation ones", async () => {
    const tok = textTokenizer();
    const model = textModel(tok, 5);
    const ex = (line: number, input: string, output: string): Example => ({
      messages: [
        { role: "user", content: input },
        { role: "assistant", content: output },
      ],
      source: { file: "t.jsonl", line },
    });
    const train = [ex(1, "set a timer", "timer"), ex(2, "play some music", "music")];
    const validation = [ex(1, "book a table", "restaurant")];
    const rows = encodeAll(tok, [...train, ...train, ...train, ...train], {
      maxLength: 96,
      overLength: "drop",
    }).rows;

    await new TrainingRun({
      model,
      params: model.trainableVariables({ method: "full" }),
      train: rows,
      validation: [],
      options: loopOptions({ epochs: 60, batchSize: 8, learningRate: 1e-2, padId: tok.padId }),
    });
    const r = memorisation(model, tok, { train, validation });

    expect(r.counts).toEqual({ train: 2, validation: 1, trainVerbatim: 2, validationVerbatim: 0 });
    expect(r.gap).toBe(1);
    expect(r.records.map((x) => x.line).sort()).toEqual([1, 2]);
    model.dispose();
  });
});
