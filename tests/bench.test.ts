// The benchmark reports every contract field and a flat tensor count (speed is not asserted).
import { describe, expect, it } from "vitest";
import { type BenchResult, runBench } from "../lib/bench/bench.js";
import { combineRounds, parseReference } from "../lib/cli/bench.js";
import { TunebookError } from "../lib/errors.js";

describe("runBench", () => {
  it("measures the toy case with every field and no tensor growth", async () => {
    const r = await runBench("toy", { baseDir: "unused", steps: 2, warmup: 1 });

    expect(r).toMatchObject({ case: "toy", batch: 8, sequence: 128, parameters: 328256 });
    expect(r.backend).toMatch(/^backend (wasm|cpu|tensorflow)/);
    expect(r.step_ms).toBeGreaterThan(0);
    expect(r.train_tokens_per_s).toBeCloseTo((8 * 128) / (r.step_ms / 1000), -1);
    expect(r.generate_tokens_per_s).toBeGreaterThan(0);
    expect(r.peak_rss_mb).toBeGreaterThan(0);
    expect(Math.abs(r.estimated_mb - r.peak_tensor_mb) / r.peak_tensor_mb).toBeLessThan(0.2);
    expect(r.tensors_after).toBe(r.tensors_before);
  });

  it("rejects an unknown case by name", async () => {
    await expect(runBench("huge" as never, { baseDir: "unused" })).rejects.toThrow(
      /unknown case "huge"; use toy, base-lora, base-full/,
    );
  });
});

describe("combineRounds", () => {
  const result = (step: number, generate: number, rss: number): BenchResult => ({
    case: "toy", backend: "backend wasm", parameters: 10, trainable_parameters: 10, batch: 2,
    sequence: 50, step_ms: step, train_tokens_per_s: 0, generate_tokens_per_s: generate,
    peak_rss_mb: rss, peak_tensor_mb: 1, estimated_mb: 1, tensors_before: 5, tensors_after: 5,
  });
  const ref = (step: number) => ({ backend: "pytorch", step_ms: step, train_tokens_per_s: 0 });

  it("takes each side's median the same way, for odd and even numbers of rounds", () => {
    const odd = combineRounds(
      [result(90, 100, 300), result(70, 300, 320), result(80, 200, 310)],
      [ref(40), ref(60), ref(50)],
    );
    expect([odd.step_ms, odd.pytorch_step_ms, odd.generate_tokens_per_s]).toEqual([80, 50, 200]);
    expect(odd.ratio_tokens_per_s).toBe(0.625);
    expect(odd.train_tokens_per_s).toBe(1250); // 100 tokens in 80 ms
    expect(odd.peak_rss_mb).toBe(320);
    expect(odd.rounds.map((r) => r.pytorch_step_ms)).toEqual([40, 60, 50]);

    const even = combineRounds([result(90, 100, 300), result(70, 300, 300)], [ref(40), ref(60)]);
    expect([even.step_ms, even.pytorch_step_ms]).toEqual([80, 50]);
    expect(even.ratio_tokens_per_s).toBe(0.625);
  });
});

describe("parseReference", () => {
  it("takes the last line when it is a result with a backend and a positive step time", () => {
    const out = 'loading\n{"backend": "pytorch 1.13 (1 thread)", "step_ms": 52.5, "train_tokens_per_s": 19500}\n';
    expect(parseReference(out, "bench/reference.py")).toMatchObject({ step_ms: 52.5 });
  });

  it.each([
    ["text", "hello not json"],
    ["nothing", ""],
    ["null", "null"],
    ["an empty object", "{}"],
    ["a step time that is not a number", '{"backend": "pytorch", "step_ms": "fast"}'],
    ["a zero step time", '{"backend": "pytorch", "step_ms": 0}'],
  ])("refuses %s in one line naming the script and what it printed", (_, out) => {
    let message = "";
    try {
      parseReference(out, "bench/reference.py");
    } catch (err) {
      expect(err).toBeInstanceOf(TunebookError);
      message = (err as Error).message;
    }
    expect(message).toContain("bench/reference.py did not print a result");
    expect(message).toContain(JSON.stringify(out));
    expect(message).not.toContain("\n");
  });
});
