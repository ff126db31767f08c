// Tests for encodeExample/encodeAll: prompt masked, answer and EOS targets, over-length handling.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeAll, encodeExample } from "../lib/data/encode.js";
import type { Example } from "../lib/data/load.js";
import { trainBpe } from "../lib/tokens/bpe-trainer.js";
import { CHAT_TEMPLATE, SPECIAL_TOKENS } from "../lib/tokens/template.js";
import { Tokenizer, defaultTokenizerConfig } from "../lib/tokens/tokenizer.js";
import { TunebookError } from "../lib/errors.js";

const text = readFileSync("data/pretrain/tinyshakespeare.txt", "utf-8").slice(0, 60_000);
const tok = Tokenizer.fromJSON(
  trainBpe([text], { vocabSize: 500, specialTokens: [...SPECIAL_TOKENS] }),
  defaultTokenizerConfig(CHAT_TEMPLATE),
);
const id = (t: string) => tok.tokenToId(t)!;

function example(user: string, answer: string, line = 1, system?: string): Example {
  const messages: Example["messages"] = [];
  if (system) messages.push({ role: "system", content: system });
  messages.push({ role: "user", content: user }, { role: "assistant", content: answer });
  return { messages, source: { file: "train.jsonl", line } };
}

describe("encodeExample", () => {
  it("masks the prompt and targets the answer and EOS", () => {
    const ex = example("what is my balance", "balance");

    const { ids, lossMask, truncated } = encodeExample(tok, ex, { maxLength: 100 });

    const answer = tok.encode("balance");
    const user = tok.encode("what is my balance");
    const prompt = [id("<s>"), id("<|user|>"), ...user, id("<|assistant|>")];
    expect(ids).toEqual([...prompt, ...answer, tok.eosId]);
    expect(lossMask).toEqual([...prompt.map(() => 0), ...answer.map(() => 1), 1]);
    expect(truncated).toBe(false);
  });

  it("masks system and earlier turns; only the last answer is a target", () => {
    const ex: Example = {
      messages: [
        { role: "system", content: "Route." },
        { role: "user", content: "a" },
        { role: "assistant", content: "first" },
        { role: "user", content: "b" },
        { role: "assistant", content: "second" },
      ],
      source: { file: "chat.jsonl", line: 3 },
    };

    const { ids, lossMask } = encodeExample(tok, ex, { maxLength: 100 });

    const targets = ids.filter((_, i) => lossMask[i] === 1);
    expect(tok.decode(targets)).toBe("second</s>");
    expect(tok.decode(ids)).toBe("<s><|system|>Route.<|user|>a<|assistant|>first</s><|user|>b" +
      "<|assistant|>second</s>");
  });

  it("keeps the first maxLength tokens when too long", () => {
    const ex = example("a b c d e f g", "h i j");

    const { ids, lossMask, truncated } = encodeExample(tok, ex, { maxLength: 5 });

    expect(ids).toHaveLength(5);
    expect(lossMask).toEqual([0, 0, 0, 0, 0]);
    expect(truncated).toBe(true);
  });

  const withTemplate = (template: string) =>
    Tokenizer.fromJSON(
      trainBpe([text], { vocabSize: 300, specialTokens: [...SPECIAL_TOKENS] }),
      defaultTokenizerConfig(template),
    );

  it("adds EOS when a template ends answers with something else", () => {
    const plain = withTemplate(
      "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}" +
        "{% if add_generation_prompt %}assistant: {% endif %}",
    );

    const { ids, lossMask } = encodeExample(plain, example("q", "a"), { maxLength: 50 });

    expect(plain.decode(ids)).toBe("user: q\nassistant: a\n</s>");
    expect(plain.decode(ids.filter((_, i) => lossMask[i] === 1))).toBe("a\n</s>");
  });

  it("encodes prompt and answer apart when a merge crosses the boundary", () => {
    // The prompt ends in " th" and the answer continues the word: " the" is one token.
    const glued = withTemplate("{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}" +
      "{% else %} th{{ m.content }}{% endif %}{% endfor %}" +
      "{% if add_generation_prompt %} th{% endif %}");
    const prompt = glued.encode("q th");
    expect(glued.encode("q the king").slice(0, prompt.length)).not.toEqual(prompt);

    const { ids, lossMask } = encodeExample(glued, example("q", "e king"), { maxLength: 50 });

    expect(ids.slice(0, prompt.length)).toEqual(prompt);
    expect(lossMask).toEqual([...prompt.map(() => 0), ...glued.encode("e king").map(() => 1), 1]);
    expect(glued.decode(ids)).toBe("q the king</s>");
  });

  it("rejects a template whose generation prompt is not a prefix of the full chat", () => {
    const broken = withTemplate("{% for m in messages %}{{ m.content }}\n{% endfor %}" +
      "{% if add_generation_prompt %}>{% endif %}");

    expect(() => encodeExample(broken, example("q", "a"), { maxLength: 50 })).toThrow(
      "not a prefix of the full chat",
    );
  });
});

describe("encodeAll", () => {
  const short = example("hi", "greeting", 1);
  const long = example("hi", "the king and the queen went to the tower of london", 2);
  const longPrompt = example("a ".repeat(60), "x", 3);
  const lengthOf = (ex: Example) => encodeExample(tok, ex, { maxLength: 1e9 }).ids.length;
  const max = lengthOf(short) + 2;

  it.each([
    ["drop", [1], { tooLong: 2, dropped: 2, truncated: 0 }],
    ["truncate", [1, 2], { tooLong: 2, dropped: 1, truncated: 1 }],
  ] as const)("overLength %s", (overLength, lines, counts) => {
    const all = [short, long, longPrompt];

    const { rows, report } = encodeAll(tok, all, { maxLength: max, overLength });

    expect(rows.map((r) => r.source.line)).toEqual(lines);
    expect(report).toMatchObject({ count: 3, ...counts });
    expect(rows.every((r) => r.ids.length <= max && r.lossMask.includes(1))).toBe(true);
  });

  it("reports length statistics over all examples before cuts", () => {
    const lengths = [short, long, longPrompt].map(lengthOf).sort((a, b) => a - b);

    const all = [short, long, longPrompt];

    const { report } = encodeAll(tok, all, { maxLength: 1000, overLength: "error" });

    expect(report.lengths).toEqual({
      min: lengths[0], p50: lengths[1], p95: lengths[2], max: lengths[2],
      mean: (lengths[0] + lengths[1] + lengths[2]) / 3,
    });
    expect(report).toMatchObject({ count: 3, tooLong: 0, dropped: 0, truncated: 0 });
  });

  it("overLength error names the first too-long record", () => {
    const all = [short, long, longPrompt];

    const run = () => encodeAll(tok, all, { maxLength: max, overLength: "error" });

    expect(run).toThrow(TunebookError);
    expect(run).toThrow(`train.jsonl:2: ${lengthOf(long)} tokens, longer than maxLength ${max}`);
  });
});
