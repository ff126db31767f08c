// The wasm fast paths in lib/engine: per-head products must agree with tf.matMul in value and
// gradient, and the replacement Slice kernel with plain indexing.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";
import { batchMatMul, matMul2d } from "../lib/engine/matmul.js";

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

describe("batchMatMul", () => {
  it("matches tf.matMul in value and in both gradients", () => {
    const a = filled([5, 9, 4], 1);
    const b = filled([5, 4, 6], 2);
    const dy = filled([5, 9, 6], 3);
    const loss = (mm: (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor) =>
      (x: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(mm(x as tf.Tensor3D, y as tf.Tensor3D), dy));

    expectClose(batchMatMul(a as tf.Tensor3D, b as tf.Tensor3D), tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D));
    const [ga, gb] = tf.grads(loss(batchMatMul))([a, b]);
    const [wa, wb] = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
    expectClose(ga, wa);
    expectClose(gb, wb);
    tf.dispose([a, b, dy, ga, gb, wa, wb]);
  });

  it("leaves no tensors behind across repeated gradient steps", () => {
    const a = filled([3, 8, 4], 4);
    const b = filled([3, 4, 8], 5);
    const step = () => tf.dispose(tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(batchMatMul(x as tf.Tensor3D, y as tf.Tensor3D)))([a, b]));
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
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
