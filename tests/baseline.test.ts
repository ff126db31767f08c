// The TF-IDF baseline: terms, both predictors on a set whose answers are known, and a
// CLINC150 slice as a check that it is a real baseline.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { TunebookError } from "../lib/errors.js";
import { TfidfBaseline, tfidfTerms, type BaselineExample } from "../lib/eval/baseline.js";

const ex = (input: string, output: string): BaselineExample => ({ input, output });

const TRAIN: BaselineExample[] = [
  ex("what is the weather today", "weather"),
  ex("will it rain tomorrow", "weather"),
  ex("is it sunny outside", "weather"),
  ex("hello there", "greeting"),
  ex("hi how are you", "greeting"),
  ex("good morning to you", "greeting"),
  ex("play some jazz music", "play_music"),
  ex("put on a song", "play_music"),
];

describe("tfidfTerms", () => {
  it.each([
    ["I'm here, NOW!", ["i'm", "here", "now", "i'm here", "here now"]],
    ["one", ["one"]],
    ["  ", []],
    ["café 2 go", ["café", "2", "go", "café 2", "2 go"]],
  ])("%j", (text, expected) => {
    expect(tfidfTerms(text)).toEqual(expected);
  });
});

describe("TfidfBaseline on a known set", () => {
  const baseline = TfidfBaseline.fit(TRAIN);

  it.each([
    ["what is the weather like", "weather"],
    ["rain tomorrow?", "weather"],
    ["hello", "greeting"],
    ["good morning", "greeting"],
    ["play a song", "play_music"],
    ["some jazz please", "play_music"],
  ])("%j -> %s with both predictors", (input, expected) => {
    expect(baseline.predict(input, "nearest")).toBe(expected);
    expect(baseline.predict(input, "centroid")).toBe(expected);
  });

  it("answers the most frequent output when no term is known", () => {
    expect(baseline.predict("xyzzy plugh", "nearest")).toBe("weather");
    expect(baseline.predict("", "centroid")).toBe("weather");
  });

  it("returns the nearest training output verbatim for non-label outputs", () => {
    const json = TfidfBaseline.fit([
      ex("book a table for two", '{"intent":"book","people":2}'),
      ex("book a table for four", '{"intent":"book","people":4}'),
    ]);

    expect(json.predict("table for four please", "nearest")).toBe('{"intent":"book","people":4}');
    expect(json.predict("table for four please", "centroid")).toBe(
      '{"intent":"book","people":4}',
    );
  });

  it("breaks ties towards the earlier training example", () => {
    const tied = TfidfBaseline.fit([ex("alpha", "first"), ex("alpha", "second")], {
      method: "nearest",
    });

    expect(tied.predict("alpha")).toBe("first");
  });

  it("evaluates as a label task over the training outputs", () => {
    const scores = baseline.evaluate(
      [ex("hello friend", "greeting"), ex("rain today", "weather"), ex("hi there", "weather")],
      { method: "centroid" },
    );

    expect(baseline.labels).toEqual(["weather", "greeting", "play_music"]);
    expect(scores.n).toBe(3);
    expect(scores.accuracy).toBeCloseTo(2 / 3, 12);
    expect(scores.hallucination_rate).toBe(0);
    expect(scores.per_class.greeting).toMatchObject({ n: 1, correct: 1, precision: 0.5 });
  });

  it.each([
    ["an empty training set", [], {}, /training set is empty/],
    ["an example without output", [{ input: "x" }], {}, /example 0 needs string fields/],
    ["an unknown method", TRAIN, { method: "knn" }, /unknown method "knn"/],
  ])("rejects %s", (_name, train, opts, message) => {
    const fit = () => TfidfBaseline.fit(train as BaselineExample[], opts as never);

    expect(fit).toThrow(TunebookError);
    expect(fit).toThrow(message);
  });
});

describe("TfidfBaseline on CLINC150", () => {
  // The shipped JSONL copy of CLINC150's train and validation splits.
  const read = (file: string): [string, string][] =>
    readFileSync(new URL(`../data/clinc150/${file}`, import.meta.url), "utf8")
      .trim()
      .split("\n")
      .map((line) => {
        const { input, output } = JSON.parse(line) as { input: string; output: string };
        return [input, output];
      });
  const clinc = { train: read("train.jsonl"), val: read("validation.jsonl") };
  const labels = [...new Set(clinc.train.map(([, label]) => label))].sort().slice(0, 30);
  const keep = new Set(labels);
  const slice = (rows: [string, string][]) =>
    rows.filter(([, label]) => keep.has(label)).map(([input, output]) => ex(input, output));

  it.each(["nearest", "centroid"] as const)("%s beats 0.6 accuracy on 30 intents", (method) => {
    const train = slice(clinc.train);
    const val = slice(clinc.val);

    const scores = TfidfBaseline.fit(train, { method }).evaluate(val);

    expect(train.length).toBe(3000);
    expect(val.length).toBe(600);
    expect(scores.accuracy).toBeGreaterThan(0.6);
    expect(Object.keys(scores.per_class).length).toBe(30);
  });
});
