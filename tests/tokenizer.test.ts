// Tests for Tokenizer: round trips, specials, save/load, chat template, agreement with training.
import { mkdtempSync, readFileSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { trainBpe } from "../lib/tokens/bpe-trainer.js";
import { Tokenizer, defaultTokenizerConfig } from "../lib/tokens/tokenizer.js";
import { CHAT_TEMPLATE, SPECIAL_TOKENS } from "../lib/tokens/template.js";
import { TunebookError } from "../lib/errors.js";

const shakespeare = readFileSync("data/pretrain/tinyshakespeare.txt", "utf-8");
const texts = [shakespeare.slice(0, 150_000), "naïve café 東京 🤖🎉 “quotes” tab\tend"];
const tokenizerJson = trainBpe(texts, { vocabSize: 800, specialTokens: [...SPECIAL_TOKENS] });
const tok = Tokenizer.fromJSON(tokenizerJson, defaultTokenizerConfig(CHAT_TEMPLATE));
const tmp = mkdtempSync(join(tmpdir(), "tunebook-tok-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("Tokenizer", () => {
  it.each([
    ["plain", "First Citizen:\nBefore we proceed any further, hear me speak."],
    ["unicode", "naïve café, Zürich — 東京 and Ελληνικά"],
    ["emoji", "ok 🤖🎉👩‍👩‍👧 done"],
    ["whitespace runs", "a  b   c\t\td\n\n\n  e   \n"],
    ["leading and trailing spaces", "   x   "],
    ["punctuation spacing", "Hello , world ! Don 't ( x )"],
    ["digits", "3.14159 and 2024-01-01"],
    ["control bytes", "\u0000\u0001\u007f"],
    ["empty", ""],
  ])("round-trips %s", (_name, text) => {
    const ids = tok.encode(text);

    expect(tok.decode(ids)).toBe(text);
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(true);
  });

  it("uses the learned merges: common words are single tokens", () => {
    expect(tok.encode(" the")).toHaveLength(1);
    expect(tok.encode("the king").length).toBeLessThan("the king".length);
  });

  it("agrees with itself: re-encoding decoded ids gives the same ids", () => {
    const ids = tok.encode(shakespeare.slice(200_000, 203_000));

    expect(tok.encode(tok.decode(ids))).toEqual(ids);
  });

  it.each(SPECIAL_TOKENS.map((s, i) => [s, i]))("maps special %s to the single id %i", (s, id) => {
    expect(tok.encode(`x${s}y`)).toEqual([...tok.encode("x"), id, ...tok.encode("y")]);
  });

  it("knows bos, eos, pad and the vocabulary size", () => {
    expect([tok.padId, tok.bosId, tok.eosId]).toEqual([0, 1, 2]);
    expect(tok.vocabSize).toBe(800);
  });

  it("adds BOS only when asked, and skips specials on request", () => {
    const ids = tok.encode("hi", { addSpecialTokens: true });

    expect(ids[0]).toBe(tok.bosId);
    expect(ids.slice(1)).toEqual(tok.encode("hi"));
    expect(tok.decode([...ids, tok.eosId])).toBe("<s>hi</s>");
    expect(tok.decode([...ids, tok.eosId], { skipSpecialTokens: true })).toBe("hi");
  });

  it("renders the chat template; the generation prompt is a prefix of the full chat", () => {
    const messages = [
      { role: "system", content: "Route tickets." },
      { role: "user", content: "what is my balance" },
      { role: "assistant", content: "balance" },
    ];

    const full = tok.applyChatTemplate(messages, { addGenerationPrompt: false });
    const prompt = tok.applyChatTemplate(messages.slice(0, 2), { addGenerationPrompt: true });

    expect(full).toBe(
      "<s><|system|>Route tickets.<|user|>what is my balance<|assistant|>balance</s>",
    );
    expect(full.startsWith(prompt)).toBe(true);
    expect(tok.encode(full).slice(0, tok.encode(prompt).length)).toEqual(tok.encode(prompt));
  });

  it("saves and loads to the same behaviour", async () => {
    const dir = join(tmp, "saved");

    await tok.save(dir, { modelMaxLength: 256 });
    const loaded = await Tokenizer.load(dir);
    const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf-8"));

    const text = "To be, or not to be 🤖";
    expect(loaded.encode(text)).toEqual(tok.encode(text));
    expect(loaded.chatTemplate).toBe(CHAT_TEMPLATE);
    expect(config).toMatchObject({
      tokenizer_class: "PreTrainedTokenizerFast", bos_token: "<s>", eos_token: "</s>",
      pad_token: "<pad>", unk_token: "<unk>", model_max_length: 256,
    });
  });

  it.each<[string, { tokenizer?: string; config?: string }, string]>([
    ["missing tokenizer.json", { config: "{}" }, "tokenizer.json: file not found"],
    ["missing config", { tokenizer: "{}" }, "tokenizer_config.json: file not found"],
    ["corrupt tokenizer.json", { tokenizer: "{oops", config: "{}" },
      "tokenizer.json: not valid JSON"],
    ["corrupt config", { tokenizer: "{}", config: "[1]" }, "tokenizer_config.json: not valid JSON"],
    ["no model", { tokenizer: "{}", config: "{}" }, "tokenizer.json has no model.vocab"],
  ])("load fails clearly: %s", async (name, files, fragment) => {
    const dir = join(tmp, name.replace(/ /g, "-"));
    mkdirSync(dir);
    if (files.tokenizer) writeFileSync(join(dir, "tokenizer.json"), files.tokenizer);
    if (files.config) writeFileSync(join(dir, "tokenizer_config.json"), files.config);

    const load = Tokenizer.load(dir);

    await expect(load).rejects.toThrow(TunebookError);
    await expect(Tokenizer.load(dir)).rejects.toThrow(fragment);
  });

  it("refuses to render a chat without a template", () => {
    const bare = Tokenizer.fromJSON(tokenizerJson, {});

    const render = () => bare.applyChatTemplate([], { addGenerationPrompt: true });

    expect(render).toThrow("chat_template");
  });
});
