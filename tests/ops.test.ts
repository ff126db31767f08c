// Checks embeddingLookup against tf.gather: same values, and the same table gradient as
// tf.gather's own gradient computed on the cpu backend (wasm cannot run that one).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";
import { embeddingLookup, frozenLinear } from "../lib/engine/ops.js";

const V = 7;
const D = 3;
const table = Array.from({ length: V * D }, (_, i) => Math.sin(i + 1));
const dy = (n: number): number[] => Array.from({ length: n * D }, (_, i) => Math.cos(3 * i));

/** Value and table gradient of sum(lookup(table, ids) * dy) under the given lookup. */
function run(
  lookup: (t: tf.Tensor2D, ids: tf.Tensor2D) => tf.Tensor,
  ids: number[][],
): { value: number[]; grad: number[] } {
  return tf.tidy(() => {
    const t = tf.tensor2d(table, [V, D]);
    const idT = tf.tensor2d(ids, undefined, "int32");
    const w = tf.tensor3d(dy(ids.length * ids[0].length), [ids.length, ids[0].length, D]);
    const f = (x: tf.Tensor): tf.Scalar => tf.sum(tf.mul(lookup(x as tf.Tensor2D, idT), w));
    const grad = tf.grad(f)(t);
    return { value: Array.from(lookup(t, idT).dataSync()), grad: Array.from(grad.dataSync()) };
  });
}

const gather = (t: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor =>
  tf.reshape(tf.gather(t, tf.reshape(ids, [-1])), [...ids.shape, D]);

const cases: { name: string; ids: number[][] }[] = [
  { name: "distinct ids", ids: [[0, 3, 6]] },
  { name: "repeated ids in a row", ids: [[2, 2, 2, 5]] },
  { name: "repeats across the batch", ids: [[1, 4], [4, 1], [1, 1]] },
];

describe("embeddingLookup", () => {
  const expected = new Map<string, { value: number[]; grad: number[] }>();

  beforeAll(async () => {
    await tf.setBackend("cpu");
    for (const c of cases) expected.set(c.name, run(gather, c.ids));
    delete process.env.TUNEBOOK_BACKEND;
    expect(await initBackend()).toBe("wasm");
    await tf.setBackend("wasm");
  });

  it.each(cases)("matches tf.gather's value and gradient on cpu: $name", ({ name, ids }) => {
    const got = run(embeddingLookup, ids);

    const want = expected.get(name)!;
    expect(tf.getBackend()).toBe("wasm");
    expect(got.value).toEqual(want.value);
    for (let i = 0; i < want.grad.length; i++) expect(got.grad[i]).toBeCloseTo(want.grad[i], 6);
  });

  it("rejects float ids", () => {
    const t = tf.zeros([V, D]) as tf.Tensor2D;
    const ids = tf.zeros([1, 2]) as tf.Tensor2D;

    expect(() => embeddingLookup(t, ids)).toThrow(/int32/);
    tf.dispose([t, ids]);
  });
});

describe("frozenLinear", () => {
  it("matches x @ w^T and tf.matMul's gradient for x", () => {
    const x = tf.tensor2d([[1, -2, 0.5], [3, 0.25, -1]]);
    const w = tf.tensor2d([[0.1, 0.2, 0.3], [-0.4, 0.5, -0.6], [0.7, 0, 1], [2, -1, 0]]);
    const dy = tf.tensor2d([[1, 2, 3, 4], [-1, 0.5, 0, 2]]);

    const f = (g: (x: tf.Tensor2D) => tf.Tensor) => (a: tf.Tensor) =>
      tf.sum(tf.mul(g(a as tf.Tensor2D), dy));
    const got = tf.grad(f((a) => frozenLinear(a, w)))(x);
    const want = tf.grad(f((a) => tf.matMul(a, w, false, true)))(x);
    const withCopy = frozenLinear(x, w, tf.transpose(w));

    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    expect(Array.from(withCopy.dataSync())).toEqual(
      Array.from(tf.matMul(x, w, false, true).dataSync()),
    );
    tf.dispose([x, w, dy, got, want, withCopy]);
  });
});
