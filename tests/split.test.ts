// Tests for the seeded PRNG and the train/validation split.
import { describe, expect, it } from "vitest";
import { mulberry32, shuffled } from "../lib/data/random.js";
import { splitExamples } from "../lib/data/split.js";
import { TunebookError } from "../lib/errors.js";

const items = Array.from({ length: 100 }, (_, i) => i);

describe("mulberry32", () => {
  it("gives the same floats in [0, 1) for the same seed, others for another", () => {
    const a = Array.from({ length: 5 }, mulberry32(42));
    const b = Array.from({ length: 5 }, mulberry32(42));
    const c = Array.from({ length: 5 }, mulberry32(43));

    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it("is roughly uniform", () => {
    const r = mulberry32(1);
    const xs = Array.from({ length: 10_000 }, r);

    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });

  it("shuffles a copy into a permutation", () => {
    const s = shuffled(items, mulberry32(7));

    expect(s).not.toEqual(items);
    expect([...s].sort((x, y) => x - y)).toEqual(items);
  });
});

describe("splitExamples", () => {
  it.each([
    [0.1, 90, 10],
    [0.25, 75, 25],
    [0, 100, 0],
  ])("fraction %f gives %i train and %i validation, disjoint and complete", (f, nTrain, nVal) => {
    const { train, validation } = splitExamples(items, { validationFraction: f, seed: 1 });

    expect([train.length, validation.length]).toEqual([nTrain, nVal]);
    expect([...train, ...validation].sort((x, y) => x - y)).toEqual(items);
    expect(train).toEqual([...train].sort((x, y) => x - y));
  });

  it("is reproducible for a seed and differs across seeds", () => {
    const a = splitExamples(items, { validationFraction: 0.2, seed: 5 });
    const b = splitExamples(items, { validationFraction: 0.2, seed: 5 });
    const c = splitExamples(items, { validationFraction: 0.2, seed: 6 });

    expect(a).toEqual(b);
    expect(a.validation).not.toEqual(c.validation);
  });

  it.each([
    [1, "out of range"],
    [-0.1, "out of range"],
    [Number.NaN, "out of range"],
    [0.999, "leaves none to train on"],
  ])("rejects validationFraction %f", (f, fragment) => {
    const run = () => splitExamples(items, { validationFraction: f, seed: 1 });

    expect(run).toThrow(TunebookError);
    expect(run).toThrow(fragment);
  });
});
