// The benchmark reports every contract field and a flat tensor count (speed is not asserted).
import { describe, expect, it } from "vitest";
import { runBench } from "../lib/bench/bench.js";

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
