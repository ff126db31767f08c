// Tests for Dataset: size, the DataFrame view and label counts.
import { describe, expect, it } from "vitest";
import { Dataset } from "../lib/data/dataset.js";
import type { Example } from "../lib/data/load.js";
import { trainBpe } from "../lib/tokens/bpe-trainer.js";
import { CHAT_TEMPLATE, SPECIAL_TOKENS } from "../lib/tokens/template.js";
import { Tokenizer, defaultTokenizerConfig } from "../lib/tokens/tokenizer.js";

const ex = (user: string, answer: string, line: number): Example => ({
  messages: [{ role: "user", content: user }, { role: "assistant", content: answer }],
  source: { file: "t.jsonl", line },
});
const data = new Dataset([
  ex("hi", "greeting", 1),
  ex("bye", "farewell", 2),
  ex("hey", "greeting", 3),
]);

describe("Dataset", () => {
  it("counts examples and labels, most frequent first", () => {
    expect(data.size).toBe(3);
    expect(data.labels()).toEqual([
      { label: "greeting", count: 2 },
      { label: "farewell", count: 1 },
    ]);
  });

  it("shows a frame with file, line, prompt, response and, once counted, tokens", () => {
    const tok = Tokenizer.fromJSON(
      trainBpe(["hi bye hey greeting farewell"], {
        vocabSize: 300,
        specialTokens: [...SPECIAL_TOKENS],
      }),
      defaultTokenizerConfig(CHAT_TEMPLATE),
    );

    const before = data.frame();
    const after = data.countTokens(tok).frame();

    expect(before.columns).toEqual(["file", "line", "prompt", "response"]);
    expect(after.columns).toEqual(["file", "line", "prompt", "response", "tokens"]);
    expect(after.column("line").values).toEqual([1, 2, 3]);
    expect(after.column("prompt").values).toEqual(["hi", "bye", "hey"]);
    expect(after.column("tokens").values[0]).toBe(
      data.encode(tok, { maxLength: 100, overLength: "error" }).rows[0].ids.length,
    );
  });

  it("splits into two Datasets", () => {
    const { train, validation } = data.split({ validationFraction: 0.34, seed: 3 });

    expect([train.size, validation.size]).toEqual([2, 1]);
  });
});
