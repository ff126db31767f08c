// Run folders: what is written, the rendered report, reading back, and all-or-nothing writes.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { TunebookError } from "../lib/errors.js";
import type { ClassScores } from "../lib/eval/metrics.js";
import { readPeftAdapter, type PeftAdapter } from "../lib/export/peft.js";
import { renderReport } from "../lib/export/report.js";
import { readRunFolder, writeRunFolder } from "../lib/export/run-folder.js";

const cls = (n: number, correct: number, f1: number): ClassScores => ({
  n, correct, accuracy: correct / n, precision: f1, recall: correct / n, f1,
});

const RUN = {
  goal: { description: "Route support tickets to one of 150 intents.", answer: "label" },
  base_model: "models/tunebook-base",
  data: { train: 15000, validation: 3000 },
  hyperparameters: { method: "lora", r: 8, learning_rate: 0.0003, epochs: 2 },
};

const perClass: Record<string, ClassScores> = Object.fromEntries(
  Array.from({ length: 12 }, (_, i) => [`intent_${i}`, cls(20, 20 - i, 1 - i / 20)]),
);

const METRICS = {
  baseline: { n: 3000, accuracy: 0.8223, macro_f1: 0.8204, hallucination_rate: 0 },
  before: { n: 3000, accuracy: 0.01, macro_f1: 0.005, validation_loss: 4.5, perplexity: 90.017 },
  after: {
    n: 3000, accuracy: 0.9, macro_f1: 0.89, validation_loss: 0.25, perplexity: 1.284,
    per_class: perClass,
  },
};

function adapter(): PeftAdapter {
  const p = "base_model.model.model.layers.0.self_attn.q_proj";
  return {
    config: {
      r: 1, loraAlpha: 2, loraDropout: 0, targetModules: ["q_proj"], baseModelNameOrPath: "b",
    },
    tensors: new Map([
      [`${p}.lora_A.weight`, { shape: [1, 2], values: new Float32Array([1, 2]) }],
      [`${p}.lora_B.weight`, { shape: [2, 1], values: new Float32Array([3, 4]) }],
    ]),
  };
}

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "tunebook-run-"));
  dir = path.join(root, "runs", "clinc-1");
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("writeRunFolder / readRunFolder", () => {
  it("writes every part and reads run.json and metrics.json back", async () => {
    await writeRunFolder(dir, { runJson: RUN, metrics: METRICS, adapter: adapter() });

    const back = await readRunFolder(dir);
    expect((await readdir(dir)).sort()).toEqual([
      "adapter", "metrics.json", "report.md", "run.json",
    ]);
    expect(back.runJson).toEqual(RUN);
    expect(back.metrics).toEqual(METRICS);
    expect(back.report).toContain("# Fine-tuning report");
    expect(back.adapterDir).toBe(path.join(dir, "adapter"));
    expect((await readPeftAdapter(back.adapterDir!)).config.r).toBe(1);
    expect(await readdir(path.join(root, "runs"))).toEqual(["clinc-1"]);
  });

  it("writes a given report verbatim and no adapter folder without an adapter", async () => {
    await writeRunFolder(dir, { runJson: {}, metrics: {}, report: "# mine\n" });

    const back = await readRunFolder(dir);
    expect(back.report).toBe("# mine\n");
    expect(back.adapterDir).toBeNull();
  });

  it("leaves nothing behind when the adapter is bad", async () => {
    const bad = adapter();
    bad.config.r = 2;

    const write = writeRunFolder(dir, { runJson: RUN, metrics: METRICS, adapter: bad });

    await expect(write).rejects.toThrow(/lora_A must be \[r, in\] = \[2, in\]/);
    expect(await readdir(path.join(root, "runs"))).toEqual([]);
  });

  it.each([
    ["runJson that is not an object", { runJson: [], metrics: {} }, /runJson must be an object/],
    ["metrics JSON cannot hold", { runJson: {}, metrics: { big: 1n } }, /metrics cannot be saved/],
  ])("rejects %s", async (_name, parts, message) => {
    const write = writeRunFolder(dir, parts as never);

    await expect(write).rejects.toThrow(TunebookError);
    await expect(write).rejects.toThrow(message);
  });

  it("refuses to replace a run unless overwrite is set", async () => {
    await writeRunFolder(dir, { runJson: { v: 1 }, metrics: {} });

    await expect(writeRunFolder(dir, { runJson: { v: 2 }, metrics: {} })).rejects.toThrow(
      /already exists/,
    );
    await writeRunFolder(dir, { runJson: { v: 3 }, metrics: {} }, { overwrite: true });
    expect((await readRunFolder(dir)).runJson).toEqual({ v: 3 });
    expect(await readdir(path.join(root, "runs"))).toEqual(["clinc-1"]);
  });

  it.each([
    ["a missing folder", async () => {}, /no such run folder/],
    [
      "a missing metrics.json",
      async () => rm(path.join(dir, "metrics.json")),
      /metrics.json is missing/,
    ],
    [
      "broken run.json",
      async () => writeFile(path.join(dir, "run.json"), "{"),
      /run.json: not valid JSON/,
    ],
    [
      "a run.json that is a list",
      async () => writeFile(path.join(dir, "run.json"), "[]"),
      /run.json: must hold a JSON object/,
    ],
  ])("readRunFolder names %s", async (name, arrange, message) => {
    if (name !== "a missing folder") await writeRunFolder(dir, { runJson: {}, metrics: {} });
    await arrange();

    await expect(readRunFolder(dir)).rejects.toThrow(message);
  });
});

describe("renderReport", () => {
  const report = renderReport(RUN, METRICS);

  it.each([
    ["the goal", "## Goal\n\nRoute support tickets to one of 150 intents."],
    ["data counts", "| train | 15000 |"],
    ["hyperparameters", "| learning_rate | 0.0003 |"],
    ["the metrics header", "| Metric | Baseline | Before training | After training | Change |"],
    ["accuracy with the change", "| Accuracy | 0.822 | 0.010 | 0.900 | +0.890 |"],
    ["a loss that went down", "| Validation loss | – | 4.5000 | 0.2500 | -4.2500 |"],
    ["the weakest class first", "| intent_11 | 20 | 9 | 0.450 | 0.450 | 0.450 |"],
    ["no change for the example count", "| Examples scored | 3000 | 3000 | 3000 | – |"],
  ])("shows %s", (_name, line) => {
    expect(report).toContain(line);
  });

  it("lists ten weakest classes, lowest F1 first", () => {
    const section = report.split("## Weakest classes")[1];

    const rows = section.split("\n").filter((l) => l.startsWith("| intent"));

    expect(rows.map((r) => r.split(" | ")[0].slice(2))).toEqual(
      Array.from({ length: 10 }, (_, i) => `intent_${11 - i}`),
    );
  });

  it("leaves out sections without data", () => {
    expect(renderReport({}, {})).toBe("# Fine-tuning report\n");
  });
});

describe("renderReport verdict", () => {
  it.each([
    [0.7, 0.8, "The retrieval baseline is still ahead: accuracy 0.800 against 0.700"],
    [0.9, 0.8, "Fine-tuning beats the retrieval baseline: accuracy 0.900 against 0.800."],
  ])("after %f, baseline %f", (after, baseline, sentence) => {
    const text = renderReport({}, { after: { accuracy: after }, baseline: { accuracy: baseline } });

    expect(text).toContain(sentence);
  });
});
