// The threaded wasm build started under Node: it reports its threads and computes what the
// single-threaded backend computes. It runs in a child process, since a process picks its
// backend once.
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";

const root = path.resolve(import.meta.dirname, "..");

// Products big enough to be split across threads (whole ones, bands of rows, operands read
// transposed, a batch), the gradient of one, and sums of each output.
const PRODUCTS = `
const r = (shape, seed) => tf.tensor(
  Array.from({ length: shape.reduce((x, y) => x * y) }, (_, i) => Math.sin(i * 0.37 + seed)), shape);
const a = r([256, 96], 1), b = r([96, 80], 2), q = r([32, 128, 16], 3), k = r([32, 128, 16], 4);
const outputs = {
  plain: tf.matMul(a, b),
  transA: tf.matMul(a, a, true, false),
  transB: tf.matMul(b, b, false, true),
  batch: tf.matMul(q, k, false, true),
  oddBatch: tf.matMul(r([3, 202, 64], 5), r([3, 64, 40], 6)),
  grad: tf.grad((x) => tf.sum(tf.square(tf.matMul(x, b))))(a),
};
const sums = Object.fromEntries(Object.entries(outputs).map(([name, t]) => {
  const d = t.dataSync();
  return [name, [d.length, d.reduce((s, x) => s + x, 0), d.reduce((s, x, i) => s + x * (i % 7), 0)]];
}));
`;
const script = `
import * as tf from "@tensorflow/tfjs";
import { describeBackend, initBackend } from "./lib/engine/backend.js";
await initBackend();
${PRODUCTS}
console.log(JSON.stringify({ backend: describeBackend(), sums }));
process.exit(0);
`;

interface Outcome { status: number | null; stdout: string; stderr: string }

function runWith(env: Record<string, string>): Outcome {
  const args = ["--import", "tsx", "--input-type=module", "-e", script];
  const out = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

beforeAll(async () => {
  await initBackend();
});

describe("TUNEBOOK_WASM_THREADS", () => {
  it("starts the threaded build, splits products across threads and matches one thread", () => {
    const out = runWith({ TUNEBOOK_BACKEND: "wasm", TUNEBOOK_WASM_THREADS: "2" });
    const got = JSON.parse(out.stdout.trim().split("\n").at(-1)!);
    if (os.availableParallelism() >= 2) {
      expect(out.stderr).toBe("");
      // tunebook's own products run on the threaded build too.
      expect(got.backend).toMatch(/^backend wasm \(simd, 2 threads, (fma|simd) products\)$/);
    } else {
      expect(out.stderr).toMatch(/TUNEBOOK_WASM_THREADS=2 is more than this machine's 1 core; using 1/);
    }

    const want = new Function("tf", `${PRODUCTS}; return sums;`)(tf) as Record<string, number[]>;
    expect(Object.keys(got.sums)).toEqual(Object.keys(want));
    for (const [name, [size, sum, weighted]] of Object.entries(want)) {
      const [gotSize, gotSum, gotWeighted] = got.sums[name];
      expect(gotSize, name).toBe(size);
      expect(Math.abs(gotSum - sum), name).toBeLessThan(1e-4 * Math.max(1, Math.abs(sum)));
      expect(Math.abs(gotWeighted - weighted), name).toBeLessThan(1e-4 * Math.max(1, Math.abs(weighted)));
    }
  });

  it("uses no more threads than cores, and says so in one line", () => {
    const cores = Math.min(7, os.availableParallelism()); // 8 threads at most can be asked for
    const out = runWith({ TUNEBOOK_BACKEND: "wasm", TUNEBOOK_WASM_THREADS: String(cores + 1) });
    if (cores < os.availableParallelism()) return; // no count above this machine's cores
    expect(out.stderr).toBe(
      `tunebook: TUNEBOOK_WASM_THREADS=${cores + 1} is more than this machine's ${cores} ` +
        `core${cores === 1 ? "" : "s"}; using ${cores}\n`,
    );
    const got = JSON.parse(out.stdout.trim().split("\n").at(-1)!);
    expect(got.backend).toContain(cores === 1 ? "1 thread" : `${cores} threads`);
  });

  it("refuses a count that is not a whole number in one line, naming the variable", () => {
    const out = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(root, "lib/cli/main.ts"), "bench", "--case", "toy", "--json"],
      { cwd: root, env: { ...process.env, TUNEBOOK_WASM_THREADS: "two" }, encoding: "utf8" },
    );

    expect(out.status).toBe(1);
    expect(out.stderr).toBe("tunebook: TUNEBOOK_WASM_THREADS=two must be a whole number from 1 to 8\n");
  });
});
