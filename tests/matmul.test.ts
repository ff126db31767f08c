// The wasm fast paths: per-head products and attention's own backward pass must agree with
// tf.matMul and tfjs's automatic gradients, and the replacement Slice kernel with plain indexing.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";
import { batchedProducts, matMul2d } from "../lib/engine/matmul.js";
import { attention } from "../lib/model/attention.js";

beforeAll(async () => {
  await initBackend();
});

const filled = (shape: number[], seed: number): tf.Tensor =>
  tf.tensor(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed * 7.1 + i)),
    shape,
  );

function expectClose(got: tf.Tensor, want: tf.Tensor, tol = 1e-4): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.dataSync();
  const w = want.dataSync();
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
  expect(worst).toBeLessThan(tol);
}

describe("batchedProducts", () => {
  it("matches tf.matMul, cut into plain products or left batched for a few rows", () => {
    for (const rows of [9, 3]) {
      const a = filled([5, rows, 4], 1) as tf.Tensor3D;
      const b = filled([5, 4, 6], 2) as tf.Tensor3D;
      expectClose(batchedProducts(a, b), tf.matMul(a, b));
      tf.dispose([a, b]);
    }
  });
});

describe("attention", () => {
  // B 2, KV 2 heads shared by G 2 query heads each, T = S = 9, hd 4: enough rows to take the
  // plain-product path.
  const [B, KV, G, T, hd] = [2, 2, 2, 9, 4];
  const causal = tf.tidy(() =>
    tf.reshape(
      tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9), [1, 1, 1, T, T],
    ),
  );
  const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => {
    const scores = tf.mul(tf.matMul(q, k, false, true), 0.5);
    const probs = tf.softmax(tf.add(tf.reshape(scores, [B, KV, G, T, T]), causal));
    return tf.matMul(tf.reshape(probs, [B, KV, G * T, T]), v);
  };

  it("matches the op-by-op form in value and in the gradients of q, k and v", () => {
    const q = filled([B, KV, G * T, hd], 1);
    const k = filled([B, KV, T, hd], 2);
    const v = filled([B, KV, T, hd], 3);
    const dy = filled([B, KV, G * T, hd], 4);
    const ours = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      attention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, causal, G, 0.5);
    const loss = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) =>
      (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar => tf.sum(tf.mul(f(a, b, c), dy));

    expectClose(ours(q, k, v), reference(q, k, v));
    const got = tf.grads(loss(ours))([q, k, v]);
    const want = tf.grads(loss(reference))([q, k, v]);
    for (let i = 0; i < 3; i++) expectClose(got[i], want[i]);
    tf.dispose([q, k, v, dy, ...got, ...want]);
  });

  it("leaves no tensors behind across repeated gradient steps", () => {
    const q = filled([B, KV, G * T, hd], 5);
    const k = filled([B, KV, T, hd], 6);
    const v = filled([B, KV, T, hd], 7);
    const ours = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar =>
      tf.sum(attention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, causal, G, 0.5));
    const step = () => tf.dispose(tf.grads(ours)([q, k, v]));
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, v]);
  });
});

describe("matMul2d", () => {
  it("matches tf.matMul's gradients", () => {
    const a = filled([7, 3], 6);
    const b = filled([3, 5], 7);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.square(matMul2d(x as tf.Tensor2D, y as tf.Tensor2D))))([a, b]);
    const [wa, wb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D))))([a, b]);
    expectClose(ga, wa);
    expectClose(gb, wb);
    tf.dispose([a, b, ga, gb, wa, wb]);
  });
});

describe("Slice on wasm", () => {
  const x = tf.tensor3d(Array.from({ length: 4 * 3 * 5 }, (_, i) => i), [4, 3, 5]);
  const want = (b: number[], s: number[]): number[] => {
    const out: number[] = [];
    for (let i = b[0]; i < b[0] + s[0]; i++) {
      for (let j = b[1]; j < b[1] + s[1]; j++) {
        for (let k = b[2]; k < b[2] + s[2]; k++) out.push(i * 15 + j * 5 + k);
      }
    }
    return out;
  };

  it("cuts contiguous pieces", () => {
    for (const [b, s] of [[[1, 0, 0], [2, 3, 5]], [[3, 0, 0], [1, 3, 5]], [[2, 1, 0], [1, 2, 5]]]) {
      const got = tf.slice(x, b, s);
      expect(Array.from(got.dataSync())).toEqual(want(b, s));
      got.dispose();
    }
  });

  it("cuts strided pieces and int32 tensors", () => {
    const got = tf.slice(x, [0, 1, 2], [4, 2, 3]);
    expect(Array.from(got.dataSync())).toEqual(want([0, 1, 2], [4, 2, 3]));
    const ints = tf.slice(tf.cast(x, "int32"), [1, 0, 0], [1, 3, 5]);
    expect(ints.dtype).toBe("int32");
    expect(Array.from(ints.dataSync())).toEqual(want([1, 0, 0], [1, 3, 5]));
    tf.dispose([got, ints]);
  });
});
