// The session end to end on the shipped base model: data → tokens → LoRA training → evaluation
// → run folder, then the CLI's eval and generate commands on that folder.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { LlamaModel } from "../lib/model/llama.js";
import { readSafetensorsHeader } from "../lib/model/safetensors.js";
import { Session } from "../lib/session.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const BASE = process.env.TUNEBOOK_TEST_BASE ?? path.join(ROOT, "models/tunebook-base");
const CLI = ["--import", "tsx", path.join(ROOT, "lib/cli/main.ts")];
const STORIES = path.join(ROOT, "tests/fixtures/stories260K-hf");

/** A 6-intent slice of CLINC150, so a few dozen steps can learn something. */
function slice(file: string, intents: string[], perIntent: number): string {
  const lines = readFileSync(path.join(ROOT, "data/clinc150", file), "utf8").trim().split("\n");
  const kept: string[] = [];
  const seen = new Map<string, number>();
  for (const line of lines) {
    const { output } = JSON.parse(line) as { output: string };
    const n = seen.get(output) ?? 0;
    if (intents.includes(output) && n < perIntent) {
      kept.push(line);
      seen.set(output, n + 1);
    }
  }
  return kept.join("\n") + "\n";
}

describe("Session on the shipped base", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "tb-session-"));
  const intents = ["balance", "transfer", "weather", "alarm", "translate", "timer"];
  const trainFile = path.join(dir, "train.jsonl");
  const validFile = path.join(dir, "validation.jsonl");
  const runDir = path.join(dir, "run");
  let session: Session;

  beforeAll(async () => {
    writeFileSync(trainFile, slice("train.jsonl", intents, 40));
    writeFileSync(validFile, slice("validation.jsonl", intents, 5));
    session = await Session.open({ baseModel: BASE });
  });

  it("walks goal → data → tokens → train → evaluate → export", async () => {
    session.setGoal({ description: "route six intents", answer: "label" });
    const data = session.loadData({ train: trainFile, validation: validFile });
    const tokens = session.tokenize({ maxLength: 64 });
    const before = await session.evaluate({ label: "before" });
    const run = session.train({
      method: "lora",
      lora: { r: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "v_proj", "o_proj", "down_proj"] },
      epochs: 3,
      batchSize: 16,
      learningRate: 5e-3,
    });
    const result = await run;
    const after = await session.evaluate({ label: "after" });
    session.evaluateBaseline();
    await session.export(runDir);

    expect(data.train.size).toBe(240);
    expect(tokens.train.count).toBe(240);
    expect(result.status).toBe("finished");
    expect(result.steps).toBe(45);
    expect(session.overfit!.result().epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(after.validation_loss).toBeLessThan(before.validation_loss * 0.7);
    expect(after.format_consistency).toBeGreaterThan(before.format_consistency!);
    expect(session.history.map((h) => h.stage)).toEqual(
      expect.arrayContaining(["goal", "data", "tokens", "train", "evaluate", "export"]),
    );
    const memory = session.history.find((h) => h.action === "memory estimate")!;
    expect(memory.details.total).toBeGreaterThan(memory.details.weights as number);
    expect(session.history.some((h) => h.action === "memory warning")).toBe(false);
  });

  it("writes a PEFT adapter, run.json and metrics", async () => {
    const config = JSON.parse(readFileSync(path.join(runDir, "adapter/adapter_config.json"), "utf8"));
    const header = await readSafetensorsHeader(path.join(runDir, "adapter/adapter_model.safetensors"));
    const run = JSON.parse(readFileSync(path.join(runDir, "run.json"), "utf8"));
    const metrics = JSON.parse(readFileSync(path.join(runDir, "metrics.json"), "utf8"));

    expect(config).toMatchObject({
      peft_type: "LORA",
      task_type: "CAUSAL_LM",
      r: 8,
      lora_alpha: 16,
      lora_dropout: 0,
      target_modules: ["down_proj", "o_proj", "q_proj", "v_proj"],
    });
    expect(Object.keys(config)).toEqual([...Object.keys(config)].sort());
    expect(header.tensors.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")!.shape)
      .toEqual([8, 128]);
    expect(header.tensors.get("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight")!.shape)
      .toEqual([128, 8]);
    expect(run.method.method).toBe("lora");
    expect(run.labels).toHaveLength(6);
    expect(run.hyperparameters).toMatchObject({ method: "lora", lora_r: 8, learningRate: 5e-3 });
    expect(run.hyperparameters).not.toHaveProperty("padId");
    expect(Object.keys(metrics)).toEqual(expect.arrayContaining(["before", "after", "baseline"]));
  });

  it("exports merged weights that give the adapter model's logits", async () => {
    const mergedRun = path.join(dir, "merged-run");
    await session.export(mergedRun, { merged: true });
    const merged = await LlamaModel.load(path.join(mergedRun, "merged"));
    const ids = tf.tensor2d([[1, 5, 9, 300, 41]], [1, 5], "int32");

    const a = session.model.forward(ids);
    const b = merged.forward(ids);

    expect(tf.sub(a, b).abs().max().dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([ids, a, b]);
    merged.dispose();
  });

  it("refuses new adapter settings over the trained adapter, and says what to call", () => {
    const start = () => session.train({ method: "lora", lora: { r: 4 }, maxSteps: 1 });

    expect(start).toThrow(
      "the model already carries a LoRA adapter (r 8, alpha 16); train it on without the lora " +
        "option, or call session.mergeAdapter() or session.dropAdapter() first",
    );
    const full = () => session.train({ method: "full", maxSteps: 1 });
    expect(full).toThrow(/session\.mergeAdapter\(\)/);
  });

  it("`tunebook eval --json` scores the run on a JSONL file", () => {
    const out = execFileSync("node", [...CLI, "eval", "--run", runDir, "--data", validFile, "--json"], {
      encoding: "utf8",
    });
    const scores = JSON.parse(out);

    expect(scores.n).toBe(30);
    expect(scores.accuracy).toBeCloseTo(session.evaluations.at(-1)!.accuracy, 6);
    expect(scores).toHaveProperty("format_consistency");
    expect(scores).toHaveProperty("hallucination_rate");
  });

  it("`tunebook generate --json` answers a prompt with the run's adapter", () => {
    const out = execFileSync(
      "node",
      [...CLI, "generate", "--model", BASE, "--run", runDir, "--prompt", "what's the weather like",
        "--max-new-tokens", "8", "--greedy", "--json"],
      { encoding: "utf8" },
    );
    const result = JSON.parse(out);

    expect(Array.isArray(result.ids)).toBe(true);
    expect(result.ids.length).toBeGreaterThan(0);
    expect(result.ids.length).toBeLessThanOrEqual(8);
    expect(typeof result.text).toBe("string");
  });
});

describe("tunebook generate on stories260K (no tokenizer)", () => {
  it("prints the reference greedy continuation as ids only", () => {
    const out = execFileSync(
      "node",
      [...CLI, "generate", "--model", STORIES, "--ids", "1,300", "--max-new-tokens", "5", "--greedy",
        "--json"],
      { encoding: "utf8" },
    );

    expect(JSON.parse(out)).toEqual({ ids: [422, 422, 422, 422, 422] });
  });
});

describe("CLI errors", () => {
  it.each([
    [["generate", "--model", BASE, "--ids", "1,x", "--max-new-tokens", "2", "--json"], /--ids: item 2 \("x"\)/],
    [["eval", "--run", "/nonexistent/run", "--data", path.join(ROOT, "data/clinc150/validation.jsonl"),
      "--json"], /nonexistent\/run/],
    [["eval", "--run", "/nonexistent/run", "--data", "x.jsonl", "--json"], /x.jsonl: file not found/],
    [["eval", "--run", "r", "--data", "x.jsonl", "--limit", "0"], /--limit: expected a whole number >= 1, got "0"/],
    [["finetune", "--out", "."], /is the current folder or one above it/],
    [["finetune", "--config", "/nonexistent.json"], /nonexistent.json: cannot read/],
  ])("%j fails with one line", (args, message) => {
    let stderr = "";
    try {
      execFileSync("node", [...CLI, ...args], { encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      stderr = (err as { stderr: string }).stderr;
    }

    expect(stderr).toMatch(message);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});

/** The total of the latest memory estimate in a session's history. */
function memory(session: Session): number {
  return session.history.filter((h) => h.action === "memory estimate").at(-1)!.details.total as number;
}

describe("memory check before a run", () => {
  it("warns when the estimate is over the limit, and names the limit", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tb-memory-"));
    const file = path.join(dir, "train.jsonl");
    writeFileSync(file, slice("train.jsonl", ["balance", "transfer"], 10));
    const lines: string[] = [];
    const session = await Session.open({ baseModel: BASE, log: (line) => lines.push(line) });
    session.loadData({ train: file, validationFraction: 0.2 });
    process.env.TUNEBOOK_MEMORY_LIMIT_MB = "1";
    try {
      await session.train({ method: "lora", maxSteps: 1, batchSize: 4 });
    } finally {
      delete process.env.TUNEBOOK_MEMORY_LIMIT_MB;
    }

    const warning = session.history.find((h) => h.action === "memory warning")!;
    expect(warning.details.message).toBe(
      `this run needs about ${Math.round(memory(session) / 2 ** 20)} MB per step, more than ` +
        "TUNEBOOK_MEMORY_LIMIT_MB (1 MB); lower batchSize or maxLength",
    );
    expect(lines.some((l) => l.startsWith("train | memory per step: about "))).toBe(true);
    expect(lines.some((l) => l.startsWith("train | warning: this run needs"))).toBe(true);
  });
});

describe("memory check past a hard limit", () => {
  it("refuses to start a run far beyond the wasm heap, in one line", async () => {
    const session = await Session.open({ baseModel: BASE, log: () => {} });
    session.loadData({ train: path.join(ROOT, "data/clinc150/train.jsonl"), validationFraction: 0.1 });
    if (tf.getBackend() !== "wasm") return; // only wasm's heap is a hard limit

    // All 13 500 training rows in one batch, full fine-tuning: tens of GB.
    const start = () => session.train({ method: "full", batchSize: 13_500, maxSteps: 1 });

    expect(start).toThrow(new RegExp(
      "^this run needs about [\\d.]+ GB per step, far more than the wasm backend's 4 GiB " +
        "heap; lower batchSize or maxLength$",
    ));
    expect(memory(session)).toBeGreaterThan(5 * 2 ** 30);
  });
});

describe("merging and dropping an adapter", () => {
  it("merges into the same logits, drops back to the base, and records both", async () => {
    const session = await Session.open({ baseModel: BASE, log: () => {} });
    session.model.addLora({ r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "down_proj"] });
    for (const v of session.model.lora.values()) {
      v.assign(tf.randomNormal(v.shape, 0, 0.05, "float32", 3));
    }
    const ids = tf.tensor2d([[1, 5, 9, 300, 41]], [1, 5], "int32");
    const withAdapter = session.model.forward(ids);

    session.mergeAdapter();
    const merged = session.model.forward(ids);

    expect(session.model.loraConfig).toBeNull();
    expect(tf.max(tf.abs(tf.sub(merged, withAdapter))).dataSync()[0]).toBeLessThan(1e-4);
    expect(() => session.mergeAdapter()).toThrow("the model carries no LoRA adapter to merge");

    session.model.addLora({ r: 2, alpha: 4, dropout: 0, targetModules: ["v_proj"] });
    for (const v of session.model.lora.values()) v.assign(tf.onesLike(v));
    session.dropAdapter();
    const dropped = session.model.forward(ids);

    expect(tf.max(tf.abs(tf.sub(dropped, merged))).dataSync()[0]).toBe(0);
    expect(session.history.map((h) => h.action)).toEqual(
      expect.arrayContaining(["merge adapter", "drop adapter"]),
    );
    tf.dispose([ids, withAdapter, merged, dropped]);
  });
});
