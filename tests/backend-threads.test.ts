// The threaded wasm build started under Node: it reports its threads and computes what the
// single-threaded backend computes. It runs in a child process, since a process picks its
// backend once.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";

const root = path.resolve(import.meta.dirname, "..");

// A product big enough for XNNPACK to split across threads, and its gradient.
const script = `
import * as tf from "@tensorflow/tfjs";
import { describeBackend, initBackend } from "./lib/engine/backend.js";
await initBackend();
const a = tf.tensor2d(Array.from({ length: 256 * 96 }, (_, i) => Math.sin(i)), [256, 96]);
const b = tf.tensor2d(Array.from({ length: 96 * 80 }, (_, i) => Math.cos(i)), [96, 80]);
const g = tf.grad((x) => tf.sum(tf.square(tf.matMul(x, b))))(a);
console.log(JSON.stringify({ backend: describeBackend(), sum: tf.sum(tf.matMul(a, b)).dataSync()[0],
  grad: Array.from(g.dataSync().slice(0, 16)) }));
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
  it("starts the threaded build and matches the single-threaded results", () => {
    const out = runWith({ TUNEBOOK_BACKEND: "wasm", TUNEBOOK_WASM_THREADS: "2" });
    expect(out.stderr).toBe("");
    const got = JSON.parse(out.stdout.trim().split("\n").at(-1)!);
    expect(got.backend).toBe("backend wasm (simd, 2 threads)");

    const a = tf.tensor2d(Array.from({ length: 256 * 96 }, (_, i) => Math.sin(i)), [256, 96]);
    const b = tf.tensor2d(Array.from({ length: 96 * 80 }, (_, i) => Math.cos(i)), [96, 80]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor2D, b))))(a);
    const want = tf.sum(tf.matMul(a, b)).dataSync()[0];
    expect(Math.abs(got.sum - want)).toBeLessThan(1e-3 * Math.max(1, Math.abs(want)));
    const wantGrad = Array.from(g.dataSync().slice(0, 16));
    for (let i = 0; i < 16; i++) expect(got.grad[i]).toBeCloseTo(wantGrad[i], 2);
    tf.dispose([a, b, g]);
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
