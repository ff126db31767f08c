// Scoring tables: each case lists predictions and references with the exact scores expected.
import { describe, expect, it } from "vitest";

import { TunebookError } from "../lib/errors.js";
import {
  normalizeAnswer,
  perplexity,
  scorePredictions,
  type AnswerSpec,
  type EvalScores,
  type ScoredItem,
} from "../lib/eval/metrics.js";

const pairs = (rows: [string, string][]): ScoredItem[] =>
  rows.map(([prediction, reference]) => ({ prediction, reference }));

/** Deep comparison that allows floating-point rounding in numbers. */
function expectScores(actual: unknown, expected: unknown): void {
  if (typeof expected === "number" && typeof actual === "number") {
    expect(actual).toBeCloseTo(expected, 12);
  } else if (expected !== null && typeof expected === "object") {
    expect(Object.keys(actual as object).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) {
      expectScores((actual as Record<string, unknown>)[k], v);
    }
  } else {
    expect(actual).toBe(expected);
  }
}

describe("normalizeAnswer", () => {
  it.each([
    ["  play_music \n", "play_music"],
    ["out   of\tscope", "out of scope"],
    ["Keep Case", "Keep Case"],
    ["", ""],
  ])("%j -> %j", (input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });
});

describe("scorePredictions: label tasks", () => {
  const cases: { name: string; labels: string[]; items: ScoredItem[]; expected: EvalScores }[] = [
    {
      name: "hits, in-set misses, malformed and invented labels",
      labels: ["a_b", "cd", "e1"],
      items: pairs([
        ["a_b", "a_b"],
        ["  a_b ", "a_b"],
        ["cd", "a_b"],
        ["CD", "cd"],
        ["zz_9", "cd"],
        ["e1", "e1"],
        ["e 1", "e1"],
        ["", "e1"],
      ]),
      expected: {
        n: 8,
        accuracy: 3 / 8,
        format_consistency: 5 / 8,
        hallucination_rate: 4 / 8,
        per_class: {
          a_b: { n: 3, correct: 2, accuracy: 2 / 3, precision: 1, recall: 2 / 3, f1: 0.8 },
          cd: { n: 2, correct: 0, accuracy: 0, precision: 0, recall: 0, f1: 0 },
          e1: { n: 3, correct: 1, accuracy: 1 / 3, precision: 1, recall: 1 / 3, f1: 0.5 },
        },
        macro_f1: 1.3 / 3,
      },
    },
    {
      name: "a class predicted but never referenced is listed, not averaged",
      labels: ["x", "y", "z"],
      items: pairs([
        ["x", "x"],
        ["z", "x"],
        ["y", "y"],
      ]),
      expected: {
        n: 3,
        accuracy: 2 / 3,
        format_consistency: 1,
        hallucination_rate: 0,
        per_class: {
          x: { n: 2, correct: 1, accuracy: 0.5, precision: 1, recall: 0.5, f1: 2 / 3 },
          y: { n: 1, correct: 1, accuracy: 1, precision: 1, recall: 1, f1: 1 },
          z: { n: 0, correct: 0, accuracy: 0, precision: 0, recall: 0, f1: 0 },
        },
        macro_f1: (2 / 3 + 1) / 2,
      },
    },
    {
      name: "comparison is case-sensitive; lower case still looks like a mixed-case label",
      labels: ["Yes", "No"],
      items: pairs([
        ["yes", "Yes"],
        ["No", "No"],
      ]),
      expected: {
        n: 2,
        accuracy: 0.5,
        format_consistency: 1,
        hallucination_rate: 0.5,
        per_class: {
          Yes: { n: 1, correct: 0, accuracy: 0, precision: 0, recall: 0, f1: 0 },
          No: { n: 1, correct: 1, accuracy: 1, precision: 1, recall: 1, f1: 1 },
        },
        macro_f1: 0.5,
      },
    },
    {
      name: "labels with spaces: whitespace runs collapse, punctuation must be the labels'",
      labels: ["out of scope", "in-scope"],
      items: pairs([
        [" out   of\tscope ", "out of scope"],
        ["in-scope.", "in-scope"],
        ["in-scope", "in-scope"],
      ]),
      expected: {
        n: 3,
        accuracy: 2 / 3,
        format_consistency: 2 / 3,
        hallucination_rate: 1 / 3,
        per_class: {
          "out of scope": { n: 1, correct: 1, accuracy: 1, precision: 1, recall: 1, f1: 1 },
          "in-scope": {
            n: 2, correct: 1, accuracy: 0.5, precision: 1, recall: 0.5, f1: 2 / 3,
          },
        },
        macro_f1: (1 + 2 / 3) / 2,
      },
    },
  ];

  it.each(cases)("$name", ({ labels, items, expected }) => {
    const scores = scorePredictions(items, { kind: "label", labels });

    expectScores(scores, expected);
  });

  it("lists per-class scores in label-set order", () => {
    const scores = scorePredictions(pairs([["b", "b"], ["a", "a"]]), {
      kind: "label",
      labels: ["a", "b"],
    });

    expect(Object.keys(scores.per_class)).toEqual(["a", "b"]);
  });
});

describe("scorePredictions: JSON tasks", () => {
  it("scores equality, format and invented values", () => {
    const items: ScoredItem[] = [
      {
        prediction: '{"intent": "play", "artist": "queen"}',
        reference: '{"artist":"queen","intent":"play"}',
        input: "play Queen please",
      },
      {
        prediction: '```json\n{"intent": "play"}\n```',
        reference: '{"intent":"play"}',
        input: "play something",
      },
      {
        prediction: '{"artist": "abba"}',
        reference: '{"intent":"play","artist":"abba"}',
        input: "play ABBA",
      },
      {
        prediction: '{"intent": "play", "artist": "beatles"}',
        reference: '{"intent":"play","artist":"queen"}',
        input: "play queen",
      },
      { prediction: "[1, 2]", reference: "[1,2]", input: "1 2" },
    ];

    const scores = scorePredictions(items, { kind: "json", requiredKeys: ["intent"] });

    expectScores(scores, {
      n: 5,
      accuracy: 2 / 5,
      format_consistency: 2 / 5,
      hallucination_rate: 1 / 5,
      per_class: {},
      macro_f1: null,
    });
  });

  it.each([
    ['{"n": 3}', "three apples", 1],
    ['{"n": 3}', "3 apples", 0],
    ['{"a": {"b": ["x  y"]}}', "X Y z", 0],
    ['{"a": {"b": ["w"]}}', "x y z", 1],
    ['{"ok": true, "none": null}', "", 0],
  ])("prediction %s against input %j: hallucination %d", (prediction, input, expected) => {
    const scores = scorePredictions([{ prediction, reference: "{}", input }], { kind: "json" });

    expect(scores.hallucination_rate).toBe(expected);
  });

  it("leaves hallucination null without inputs and keeps string values exact", () => {
    const items = pairs([['{"a": "x  y"}', '{"a": "x y"}']]);

    const scores = scorePredictions(items, { kind: "json" });

    expect(scores.hallucination_rate).toBeNull();
    expect(scores.accuracy).toBe(0);
    expect(scores.format_consistency).toBe(1);
  });
});

describe("scorePredictions: free text", () => {
  it("counts exact matches after whitespace normalisation", () => {
    const items = pairs([
      ["Hello  world", "hello world"],
      [" a b ", "a b"],
    ]);

    const scores = scorePredictions(items, { kind: "free" });

    expect(scores).toEqual({
      n: 2,
      accuracy: 0.5,
      format_consistency: null,
      hallucination_rate: null,
      per_class: {},
      macro_f1: null,
    });
  });
});

describe("scorePredictions: mistakes", () => {
  const cases: { name: string; items: ScoredItem[]; spec: AnswerSpec; message: RegExp }[] = [
    { name: "no items", items: [], spec: { kind: "free" }, message: /no items/ },
    {
      name: "reference outside the label set",
      items: pairs([["a", "a"], ["a", "oos"]]),
      spec: { kind: "label", labels: ["a"] },
      message: /item 1: reference "oos" is not in the label set/,
    },
    {
      name: "empty label set",
      items: pairs([["a", "a"]]),
      spec: { kind: "label", labels: [] },
      message: /spec.labels/,
    },
    {
      name: "reference that is not JSON",
      items: pairs([["{}", "{oops"]]),
      spec: { kind: "json" },
      message: /item 0: reference is not valid JSON/,
    },
    {
      name: "inputs on some items only",
      items: [
        { prediction: "{}", reference: "{}", input: "x" },
        { prediction: "{}", reference: "{}" },
      ],
      spec: { kind: "json" },
      message: /item 1 has no input/,
    },
  ];

  it.each(cases)("$name", ({ items, spec, message }) => {
    expect(() => scorePredictions(items, spec)).toThrow(TunebookError);
    expect(() => scorePredictions(items, spec)).toThrow(message);
  });
});

describe("perplexity", () => {
  it.each([
    [0, 1],
    [Math.log(10), 10],
    [2, Math.exp(2)],
  ])("exp(%f) = %f", (loss, expected) => {
    expect(perplexity(loss)).toBeCloseTo(expected, 10);
  });

  it.each([NaN, -0.5, Infinity])("rejects a loss of %f", (loss) => {
    expect(() => perplexity(loss)).toThrow(TunebookError);
  });
});
