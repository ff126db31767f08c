// The fused kernels on wasm (SwiGLU, RMSNorm, rotary embedding, masked softmax, cross-entropy,
// row gathers) must give the values and gradients of the op-by-op formulas they replace, which
// the same functions fall back to on the cpu backend.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";
import {
  crossEntropySum, rmsNorm, rope, softmaxGrad, softmaxWithBias, swiglu,
} from "../lib/engine/fused.js";
import { FUSED } from "../lib/engine/wasm-kernels.js";

beforeAll(async () => {
  await initBackend();
});

afterAll(async () => {
  await tf.setBackend("wasm");
});

const values = (n: number, seed: number, scale = 1): number[] =>
  Array.from({ length: n }, (_, i) => scale * Math.sin(seed * 7.1 + i * 1.3));

/** Runs `f` on `backend` and returns its outputs as plain arrays. */
async function on(backend: string, f: () => tf.Tensor[]): Promise<number[][]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const arrays = outs.map((t) => Array.from(t.dataSync()));
  tf.dispose(outs);
  return arrays;
}

function expectClose(got: number[][], want: number[][], tol: number): void {
  expect(got.length).toBe(want.length);
  for (let k = 0; k < want.length; k++) {
    expect(got[k].length).toBe(want[k].length);
    let worst = 0;
    for (let i = 0; i < want[k].length; i++) {
      worst = Math.max(worst, Math.abs(got[k][i] - want[k][i]) / Math.max(1, Math.abs(want[k][i])));
    }
    expect(worst).toBeLessThan(tol);
  }
}

/** The fused op on wasm against its op-by-op form on cpu: value and gradients. */
async function expectSameOnBoth(f: () => tf.Tensor[], tol = 2e-5): Promise<void> {
  const wasm = await on("wasm", f);
  const cpu = await on("cpu", f);
  expectClose(wasm, cpu, tol);
}

/** [value, ...gradients of sum(value · weights) with respect to each input]. */
function withGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[]): tf.Tensor[] {
  const xs = inputs();
  const y = op(...xs);
  const w = tf.tensor(values(y.size, 9), y.shape);
  const grads = tf.grads((...ins: tf.Tensor[]) => tf.sum(tf.mul(op(...ins), w)))(xs);
  return [y, ...grads];
}

describe("fused kernels on wasm", () => {
  it("are registered", () => {
    for (const name of Object.values(FUSED)) expect(tf.getKernel(name, "wasm")).toBeDefined();
  });

  it("SwiGLU: value and both gradients, sizes not a multiple of four", async () => {
    await expectSameOnBoth(() =>
      withGrads(swiglu, () => [tf.tensor(values(35, 1, 6), [5, 7]), tf.tensor(values(35, 2), [5, 7])]),
    );
  });

  it("SwiGLU keeps its exponential accurate from -80 to 80 and passes NaN on", async () => {
    const g = [-80, -30, -9.5, -1, -1e-3, 0, 1e-3, 0.7, 4, 17, 30, 80];
    const [got] = await on("wasm", () => [swiglu(tf.tensor1d(g), tf.ones([g.length]))]);
    g.forEach((x, i) => {
      const want = x / (1 + Math.exp(-x));
      expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(2e-7 * Math.max(1, Math.abs(want)));
    });
    const [nan] = await on("wasm", () => [swiglu(tf.tensor1d([NaN, 1, 2, 3]), tf.ones([4]))]);
    expect(Number.isNaN(nan[0])).toBe(true);
  });

  it("RMSNorm: value and gradients of x and the gain", async () => {
    const op = (x: tf.Tensor, w: tf.Tensor): tf.Tensor => rmsNorm(x, w, 1e-5);
    await expectSameOnBoth(() =>
      withGrads(op, () => [tf.tensor(values(60, 3, 2), [5, 12]), tf.tensor(values(12, 4), [12])]),
    );
  });

  for (const tableBatch of [1, 2]) {
    it(`rotary embedding: value and gradient, tables for ${tableBatch === 1 ? "all rows" : "each row"}`, async () => {
      const [B, T, H, hd] = [2, 3, 2, 8];
      const tables = (): [tf.Tensor, tf.Tensor] => {
        const angles = tf.tensor(values(tableBatch * T * hd, 5, 3), [tableBatch, T, 1, hd]);
        return [tf.cos(angles), tf.sin(angles)];
      };
      await expectSameOnBoth(() => {
        const [cos, sin] = tables();
        return withGrads((x) => rope(x, cos, sin), () => [tf.tensor(values(B * T * H * hd, 6), [B, T, H, hd])]);
      });
    });
  }

  it("rotary embedding matches the halves formula on wasm itself", async () => {
    const [B, T, H, hd] = [1, 2, 1, 8];
    const x = values(B * T * H * hd, 7);
    const angles = values(T * hd, 8);
    const [got] = await on("wasm", () => [
      rope(tf.tensor(x, [B, T, H, hd]), tf.cos(tf.tensor(angles, [1, T, 1, hd])), tf.sin(tf.tensor(angles, [1, T, 1, hd]))),
    ]);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < hd; i++) {
        const half = hd / 2;
        const rotated = i < half ? -x[t * hd + i + half] : x[t * hd + i - half];
        const want = x[t * hd + i] * Math.cos(angles[t * hd + i]) + rotated * Math.sin(angles[t * hd + i]);
        expect(got[t * hd + i]).toBeCloseTo(want, 5);
      }
    }
  });

  for (const biasBatch of [1, 2]) {
    it(`softmax with a causal and padding bias shared by ${biasBatch === 1 ? "all rows" : "each row's heads"}`, async () => {
      const [B, H, T, S] = [2, 3, 5, 7];
      await expectSameOnBoth(() => {
        const x = tf.tensor(values(B * H * T * S, 9, 4), [B, H, T, S]) as tf.Tensor4D;
        const masked = Array.from({ length: biasBatch * T * S }, (_, i) =>
          (i % S) > (Math.floor(i / S) % T) + 2 || i % 11 === 0 ? -1e9 : 0);
        return [softmaxWithBias(x, tf.tensor(masked, [biasBatch, 1, 1, T, S]))];
      });
    });
  }

  it("softmax's backward: p · (dp - Σ p · dp)", async () => {
    await expectSameOnBoth(() => {
      const p = tf.softmax(tf.tensor(values(45, 10, 3), [5, 9]));
      return [softmaxGrad(p, tf.tensor(values(45, 11), [5, 9]))];
    });
  });

  it("cross-entropy: weighted value and gradient, large logits and untrained rows included", async () => {
    const [N, V] = [6, 13];
    const logits = values(N * V, 12, 5);
    logits[3] = 90;
    logits[V + 2] = -1e4;
    const targets = [3, 0, 12, 5, 5, 1];
    const weights = [1, 0.5, 0, 1, 2, 1];
    await expectSameOnBoth(() =>
      withGrads(
        (x) => crossEntropySum(x as tf.Tensor2D, tf.tensor1d(targets, "int32"), tf.tensor1d(weights)),
        () => [tf.tensor2d(logits, [N, V])],
      ),
    );
    const [loss] = await on("wasm", () => [
      crossEntropySum(tf.tensor2d(logits, [N, V]), tf.tensor1d(targets, "int32"), tf.tensor1d(weights)),
    ]);
    let want = 0;
    for (let i = 0; i < N; i++) {
      const row = logits.slice(i * V, (i + 1) * V);
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
      want += weights[i] * (lse - row[targets[i]]);
    }
    expect(loss[0]).toBeCloseTo(want, 3);
  });

  it("cross-entropy refuses a target outside the vocabulary", async () => {
    await tf.setBackend("wasm");
    const logits = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => crossEntropySum(logits, tf.tensor1d([1, 4], "int32"), tf.ones([2]) as tf.Tensor1D))
      .toThrow("crossEntropySum: target 4 is not in [0, 3]");
    logits.dispose();
  });
});

describe("GatherV2 on wasm", () => {
  for (const dtype of ["float32", "int32"] as const) {
    it(`looks up ${dtype} rows by an index tensor of any shape`, async () => {
      const table = Array.from({ length: 5 * 3 }, (_, i) => i * 3 + 1);
      const ids = [4, 0, 0, 2, 3, 1];
      const [got] = await on("wasm", () => [
        tf.gather(tf.tensor(table, [5, 3], dtype), tf.tensor2d(ids, [2, 3], "int32")),
      ]);
      expect(got).toEqual(ids.flatMap((r) => table.slice(r * 3, r * 3 + 3)));
    });
  }

  it("gathers a 1-D table and refuses an index past its end", async () => {
    await tf.setBackend("wasm");
    const t = tf.tensor1d([5, 6, 7]);
    expect(Array.from(tf.gather(t, tf.tensor1d([2, 0], "int32")).dataSync())).toEqual([7, 5]);
    expect(() => tf.gather(t, tf.tensor1d([3], "int32"))).toThrow("index value 3 is not in [0, 2]");
    t.dispose();
  });
});
