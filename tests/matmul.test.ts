// The wasm fast paths: products, transposes and the AdamW update must agree with plain loops
// and formulas, attention's own backward pass with tfjs's automatic gradients, and the
// replacement Slice and Cast kernels with plain indexing.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";
import { batchedProducts, matMul2d, productTA } from "../lib/engine/matmul.js";
import { loadSimdKernels } from "../lib/engine/simd.js";
import { ADAMW_UPDATE, CAUSAL, productKernels } from "../lib/engine/wasm-kernels.js";
import { attention } from "../lib/model/attention.js";
import { AdamW } from "../lib/train/adamw.js";

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
  // B 2, KV 2 key/value heads; G query heads share each; T queries see S keys, the first S - T
  // of them cached; hd 4. `skip` lets the products skip what the causal mask zeroes; `pad`
  // masks the first keys of the second row as left padding does. T of 9 and 3 put query groups
  // across the kernels' four-row blocks.
  const cases = [
    { G: 2, T: 9, S: 9, skip: false, pad: 0 },
    { G: 2, T: 9, S: 9, skip: true, pad: 0 },
    { G: 1, T: 12, S: 12, skip: true, pad: 3 },
    { G: 2, T: 3, S: 10, skip: true, pad: 2 },
    { G: 1, T: 17, S: 17, skip: true, pad: 5 },
  ];
  const [B, KV, hd] = [2, 2, 4];
  const biasFor = (T: number, S: number, pad: number): tf.Tensor =>
    tf.tensor(
      Array.from({ length: B * T * S }, (_, i) => {
        const [b, t, s] = [Math.floor(i / (T * S)), Math.floor(i / S) % T, i % S];
        return s > t + S - T || (b === 1 && s < pad) ? -1e9 : 0;
      }),
      [B, 1, 1, T, S],
    );
  const reference = (G: number, T: number, S: number, bias: tf.Tensor) =>
    (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => {
      const scores = tf.mul(tf.matMul(q, k, false, true), 0.5);
      const probs = tf.softmax(tf.add(tf.reshape(scores, [B, KV, G, T, S]), bias));
      return tf.matMul(tf.reshape(probs, [B, KV, G * T, S]), v);
    };

  for (const { G, T, S, skip, pad } of cases) {
    const what = `G ${G}, T ${T}, S ${S}${skip ? ", causal skipping" : ""}${pad ? `, ${pad} padded` : ""}`;
    it(`matches the op-by-op form in value and in the gradients of q, k and v (${what})`, () => {
      const bias = biasFor(T, S, pad);
      const q = filled([B, KV, G * T, hd], 1);
      const k = filled([B, KV, S, hd], 2);
      const v = filled([B, KV, S, hd], 3);
      const dy = filled([B, KV, G * T, hd], 4);
      const ours = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        attention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias, G, 0.5, skip);
      const loss = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) =>
        (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar => tf.sum(tf.mul(f(a, b, c), dy));

      const value = ours(q, k, v);
      const got = tf.grads(loss(ours))([q, k, v]);

      // Queries whose every key is padding attend to nothing real; their outputs are not used.
      const real = tf.tensor(Array.from({ length: B * G * T }, (_, i) => {
        const [b, t] = [Math.floor(i / (G * T)), i % T];
        return b === 1 && t + S - T < pad ? 0 : 1;
      }), [B, 1, G * T, 1]);
      const want = reference(G, T, S, bias);
      expectClose(tf.mul(value, real), tf.mul(want(q, k, v), real));
      const wantGrads = tf.grads(loss((a, b, c) => tf.mul(want(a, b, c), real)))([q, k, v]);
      const gotGrads = tf.grads(loss((a, b, c) => tf.mul(ours(a, b, c), real)))([q, k, v]);
      for (let i = 0; i < 3; i++) expectClose(gotGrads[i], wantGrads[i]);
      tf.dispose([bias, q, k, v, dy, value, real, ...got, ...gotGrads, ...wantGrads]);
    });
  }

  it("leaves no tensors behind across repeated gradient steps", () => {
    const bias = biasFor(9, 9, 0);
    const q = filled([B, KV, 2 * 9, hd], 5);
    const k = filled([B, KV, 9, hd], 6);
    const v = filled([B, KV, 9, hd], 7);
    const ours = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar =>
      tf.sum(attention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias, 2, 0.5, true));
    const step = () => tf.dispose(tf.grads(ours)([q, k, v]));
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([bias, q, k, v]);
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

/** Plain triple loop: the reference for the product kernels. */
function product(
  a: Float32Array, b: Float32Array, n: number, M: number, K: number, N: number,
  transA: boolean, transB = false,
): Float32Array {
  const c = new Float32Array(n * M * N);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const x = transA ? a[s * K * M + k * M + i] : a[s * M * K + i * K + k];
          const y = transB ? b[s * N * K + j * K + k] : b[s * K * N + k * N + j];
          sum += x * y;
        }
        c[s * M * N + i * N + j] = sum;
      }
    }
  }
  return c;
}

describe("BatchMatMul on wasm", () => {
  it("runs on tunebook's own SIMD kernels once they are built", () => {
    expect(productKernels()).not.toBe("off");
  });

  // Rows not a multiple of four and columns not a multiple of eight take the kernels' edge
  // tiles and zero-padded panels; K of 5 and 17 leaves the packing's four-row steps a remainder.
  const cases: Array<[number, number, number, number, boolean, boolean]> = [
    [1, 1, 1, 1, false, false], [1, 5, 3, 9, false, false], [1, 8, 16, 24, false, false],
    [3, 13, 17, 19, false, false], [1, 6, 11, 7, true, false], [4, 12, 5, 16, true, false],
    [2, 300, 5, 17, true, false], [1, 3, 0, 8, false, false], [1, 9, 17, 16, false, true],
    [2, 4, 8, 13, false, true], [3, 7, 6, 5, true, true], [1, 64, 1024, 40, true, false],
  ];
  for (const [n, M, K, N, transA, transB] of cases) {
    const how = [transA ? "A" : "", transB ? "B" : ""].filter(Boolean).join(" and ");
    it(`multiplies [${n}, ${M}, ${K}] by [${n}, ${K}, ${N}]${how ? ` with ${how} transposed` : ""}`, () => {
      const a = filled(transA ? [n, K, M] : [n, M, K], M + K);
      const b = filled(transB ? [n, N, K] : [n, K, N], N + 1);

      const got = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, transA, transB);

      const want = product(
        a.dataSync() as Float32Array, b.dataSync() as Float32Array, n, M, K, N, transA, transB,
      );
      expect(got.shape).toEqual([n, M, N]);
      expectClose(got, tf.tensor(want, [n, M, N]), 1e-4 * Math.max(1, Math.sqrt(K)));
      tf.dispose([a, b, got]);
    });
  }

  it("leaves broadcast batches to the stock kernel, still right", () => {
    const a = filled([2, 3, 4], 1);
    const one = filled([1, 4, 6], 3);

    const got = tf.matMul(a as tf.Tensor3D, one as tf.Tensor3D);

    const want = tf.concat([tf.matMul(a.slice([0, 0, 0], [1, 3, 4]) as tf.Tensor3D, one as tf.Tensor3D),
      tf.matMul(a.slice([1, 0, 0], [1, 3, 4]) as tf.Tensor3D, one as tf.Tensor3D)]);
    expectClose(got, want);
    tf.dispose([a, one, want, got]);
  });

  it("productTA gives aᵀb and keeps the tensor count flat", () => {
    const a = filled([9, 6], 4) as tf.Tensor2D;
    const b = filled([9, 10], 5) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const got = productTA(a, b);
    const want = product(a.dataSync() as Float32Array, b.dataSync() as Float32Array, 1, 6, 9, 10, true);
    expectClose(got, tf.tensor(want, [6, 10]));
    got.dispose();
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([a, b]);
  });
});

describe("Transpose on wasm", () => {
  for (const shape of [[5, 4], [2, 7, 9], [3, 1, 6], [8, 12]]) {
    it(`swaps the last two axes of [${shape.join(", ")}]`, () => {
      const x = filled(shape, 9);
      const [R, C] = shape.slice(-2);
      const n = shape.length === 3 ? shape[0] : 1;
      const src = x.dataSync();
      const want: number[] = [];
      for (let s = 0; s < n; s++) {
        for (let j = 0; j < C; j++) for (let i = 0; i < R; i++) want.push(src[s * R * C + i * C + j]);
      }
      const perm = shape.length === 3 ? [0, 2, 1] : [1, 0];
      const got = tf.transpose(x, perm);
      expect(got.shape).toEqual(perm.map((p) => shape[p]));
      expect(Array.from(got.dataSync())).toEqual(Array.from(Float32Array.from(want)));
      tf.dispose([x, got]);
    });
  }
});

describe("Cast on wasm", () => {
  it("shares the data of a same-dtype cast, which outlives the original", () => {
    const x = filled([3, 4], 2);
    const values = Array.from(x.dataSync());
    const y = tf.cast(x, "float32");
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual(values);
    const ints = tf.cast(y, "int32");
    expect(ints.dtype).toBe("int32");
    expect(Array.from(ints.dataSync())).toEqual(values.map((v) => Math.trunc(v) | 0));
    tf.dispose([y, ints]);
  });
});

describe("AdamW's fused update", () => {
  it("is registered on wasm and follows AdamW's formula, decaying matrices only", () => {
    expect(tf.getKernel(ADAMW_UPDATE, "wasm")).toBeDefined();
    const options = { beta1: 0.9, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1 };
    const init = { w: filled([3, 5], 1), b: filled([7], 2) };
    const params = new Map(Object.entries(init).map(([k, t]) => [k, tf.variable(t)]));
    const optimizer = new AdamW(params, options);
    const expected = new Map([...params].map(([k, p]) => [k, {
      p: Float64Array.from(p.dataSync()), m: new Float64Array(p.size), v: new Float64Array(p.size),
    }]));
    const lr = 0.05;
    for (let step = 1; step <= 3; step++) {
      const grads = new Map([...params].map(([k, p]) => [k, filled(p.shape, 10 * step + p.rank)]));
      optimizer.apply(grads, lr);
      for (const [k, g] of grads) {
        const e = expected.get(k)!;
        const decay = params.get(k)!.rank >= 2 ? options.weightDecay : 0;
        const gv = g.dataSync();
        for (let i = 0; i < e.p.length; i++) {
          e.m[i] = options.beta1 * e.m[i] + (1 - options.beta1) * gv[i];
          e.v[i] = options.beta2 * e.v[i] + (1 - options.beta2) * gv[i] ** 2;
          const mHat = e.m[i] / (1 - options.beta1 ** step);
          const vHat = e.v[i] / (1 - options.beta2 ** step);
          e.p[i] -= lr * (mHat / (Math.sqrt(vHat) + options.epsilon) + decay * e.p[i]);
        }
      }
      tf.dispose([...grads.values()]);
    }
    for (const [k, p] of params) {
      const got = p.dataSync();
      const want = expected.get(k)!.p;
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    }
    optimizer.dispose();
    tf.dispose([...params.values(), init.w, init.b]);
  });
});

describe("gemmPart", () => {
  // Its own memory: the kernels read and write byte offsets into it.
  const memory = new WebAssembly.Memory({ initial: 64 });
  const k = loadSimdKernels(memory);
  const f32 = new Float32Array(memory.buffer);
  // Offsets (in floats) of the operands, two outputs and the parts' scratch.
  const [A, B, C1, C2, WORK] = [0, 4096, 8192, 12288, 16384];

  // [what, n, M, K, N, transA, transB, causal mode, period, offset]
  const cases: [string, number, number, number, number, boolean, boolean, number, number, number][] =
    [
      ["one product in bands of rows", 1, 23, 9, 13, false, false, 0, 1, 0],
      ["a batch split by products", 5, 7, 6, 10, false, true, 0, 1, 0],
      ["A transposed, in bands", 2, 18, 5, 9, true, false, 0, 1, 0],
      ["causal scores", 2, 12, 4, 8, false, true, CAUSAL.output, 6, 2],
      ["causal rows", 1, 12, 8, 4, false, false, CAUSAL.rows, 6, 2],
      ["causal columns", 1, 8, 12, 4, true, false, CAUSAL.columns, 6, 2],
    ];
  for (const [what, n, M, K, N, tA, tB, causal, period, offset] of cases) {
    it(`writes what one call writes, once, in any number of parts: ${what}`, () => {
      if (k === null) throw new Error("the SIMD kernels are not built: npm run build:simd");
      for (let i = 0; i < n * M * K; i++) f32[A + i] = Math.sin(i * 0.7);
      for (let i = 0; i < n * K * N; i++) f32[B + i] = Math.cos(i * 0.3);
      f32.fill(Number.NaN, C1, C1 + n * M * N);
      k.gemmBatch(A * 4, B * 4, C1 * 4, n, M, K, N, tA, tB, WORK * 4, causal, period, offset);
      const whole = Array.from(f32.subarray(C1, C1 + n * M * N));
      expect(whole.every(Number.isFinite)).toBe(true);
      const work = k.gemmWorkFloats(M, K, N);
      for (const parts of [2, 3, 4]) {
        f32.fill(Number.NaN, C2, C2 + n * M * N);
        for (let p = 0; p < parts; p++) {
          const w = (WORK + p * work) * 4;
          k.gemmPart(A * 4, B * 4, C2 * 4, n, M, K, N, tA, tB, w, causal, period, offset, p, parts);
        }
        expect(Array.from(f32.subarray(C2, C2 + n * M * N)), `${parts} parts`).toEqual(whole);
      }
    });
  }
});
