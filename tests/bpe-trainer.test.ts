// Tests for the byte-level BPE trainer: hand-checked merges, determinism, the tokenizer.json shape.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { trainBpe } from "../lib/tokens/bpe-trainer.js";
import { BYTE_TO_CHAR } from "../lib/tokens/byte-level.js";
import { SPECIAL_TOKENS } from "../lib/tokens/template.js";
import { TunebookError } from "../lib/errors.js";

const specials = [...SPECIAL_TOKENS];
const shakespeare = readFileSync("data/pretrain/tinyshakespeare.txt", "utf-8");
const sample = shakespeare.slice(0, 100_000).split("\n\n");

type Model = { vocab: Record<string, number>; merges: [string, string][]; unk_token: string };
const model = (tj: object) => (tj as { model: Model }).model;

describe("trainBpe", () => {
  it("merges the most frequent pair first, ties to the lower ids", () => {
    // aaabdaaabac: aa (4) first; then (a,b) and (aa,a) tie at 2 and a has the lower id.
    const tj = trainBpe(["aaabdaaabac"], { vocabSize: 1000, specialTokens: specials });

    expect(model(tj).merges).toEqual([["a", "a"], ["a", "b"], ["aa", "ab"]]);
    expect(model(tj).vocab["aaab"]).toBe(specials.length + 256 + 2);
  });

  it("never merges across pre-token boundaries", () => {
    const tj = trainBpe(["ab ab ab ab", "x!x!"], { vocabSize: 1000, specialTokens: specials });

    const merged = model(tj).merges.map(([a, b]) => a + b);
    expect(merged).toContain("Ġab");
    expect(merged.some((t) => t.includes("bĠ") || t.includes("x!") || t.includes("!x"))).toBe(
      false,
    );
  });

  it("stops at vocabSize, with specials first and 256 bytes after", () => {
    const tj = trainBpe(sample, { vocabSize: 400, specialTokens: specials });

    const vocab = model(tj).vocab;
    expect(Object.keys(vocab)).toHaveLength(400);
    expect(model(tj).merges).toHaveLength(400 - specials.length - 256);
    specials.forEach((s, i) => expect(vocab[s]).toBe(i));
    expect(vocab[BYTE_TO_CHAR[0]]).toBe(specials.length);
    expect(vocab["Ġ"]).toBe(specials.length + 32);
    expect(new Set(Object.values(vocab)).size).toBe(400);
  });

  it("is deterministic and independent of text order", () => {
    const opts = { vocabSize: 500, specialTokens: specials };

    const a = trainBpe(sample, opts);
    const b = trainBpe([...sample].reverse(), opts);

    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it("respects minFrequency", () => {
    const tj = trainBpe(["abab cd"], { vocabSize: 1000, minFrequency: 2, specialTokens: specials });

    expect(model(tj).merges).toEqual([["a", "b"]]);
  });

  it("writes a complete byte-level tokenizer.json", () => {
    const tj = trainBpe(["hello"], { vocabSize: 300, specialTokens: specials }) as Record<
      string,
      any
    >;

    expect(tj.pre_tokenizer).toMatchObject({ type: "ByteLevel", add_prefix_space: false });
    expect(tj.decoder).toMatchObject({ type: "ByteLevel" });
    expect(tj.model).toMatchObject({ type: "BPE", unk_token: "<unk>", byte_fallback: false });
    expect(tj.added_tokens[1]).toEqual({
      id: 1, content: "<s>", single_word: false, lstrip: false, rstrip: false,
      normalized: false, special: true,
    });
  });

  it.each([
    [{ vocabSize: 100, specialTokens: specials }, "too small"],
    [{ vocabSize: 1000, specialTokens: ["<s>", "<s>"] }, "duplicates"],
    [{ vocabSize: 1000, specialTokens: ["<pad>"] }, 'bosToken "<s>"'],
  ])("rejects bad options %#", (opts, fragment) => {
    expect(() => trainBpe(["x"], opts)).toThrow(TunebookError);
    expect(() => trainBpe(["x"], opts)).toThrow(fragment);
  });
});
