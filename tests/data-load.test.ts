// Tests for loading fine-tuning data (JSONL, JSON, CSV), strict decoding, CLINC150 and the corpus.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRecords, type LoadOptions } from "../lib/data/load.js";
import { loadClinc150 } from "../lib/data/clinc.js";
import { readPretrainCorpus, stripGutenberg } from "../lib/data/corpus.js";
import { TunebookError } from "../lib/errors.js";

const DATA = "../shared/data";
const tmp = mkdtempSync(join(tmpdir(), "tunebook-data-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Write `content` to a fresh file named `name` and return its path. */
function file(name: string, content: string | Buffer): string {
  const dir = mkdtempSync(join(tmp, "f-"));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const pair = (input: string, output: string) => JSON.stringify({ input, output });

describe("loadRecords: good input", () => {
  it("reads JSONL instruction pairs, skipping blank lines, with line numbers", () => {
    const content = `${pair("hi", "greeting")}\n\n  \n${pair("bye", "farewell")}\n`;
    const path = file("train.jsonl", content);

    const examples = loadRecords(path);

    expect(examples).toEqual([
      { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "greeting" }],
        source: { file: path, line: 1 } },
      { messages: [{ role: "user", content: "bye" }, { role: "assistant", content: "farewell" }],
        source: { file: path, line: 4 } },
    ]);
  });

  it.each([
    [{ instruction: "Classify.", input: "hi", output: "x" }, "Classify.\nhi"],
    [{ instruction: "Say hello.", input: "", output: "x" }, "Say hello."],
    [{ instruction: "", input: "hi", output: "x" }, "hi"],
    [{ instruction: null, input: "hi", output: "x" }, "hi"],
  ])("builds the user message from instruction and input %#", (record, user) => {
    const [ex] = loadRecords(file("t.jsonl", JSON.stringify(record)));

    expect(ex.messages[0]).toEqual({ role: "user", content: user });
  });

  it("reads chat records and keeps their roles", () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "2+2?" },
      { role: "assistant", content: "4" },
    ];

    const [ex] = loadRecords(file("chat.jsonl", JSON.stringify({ messages })));

    expect(ex.messages).toEqual(messages);
  });

  it.each([
    ["array", (r: string) => `[\n  ${r},\n  ${r}\n]`],
    ["train key", (r: string) => `{"name": "x", "train": [\n${r},\n\n${r}]}`],
    ["data key", (r: string) => `{"data": [${r},\n${r}]}`],
  ])("reads JSON as %s with each record's line", (_name, wrap) => {
    const path = file("d.json", wrap(pair("a [x], {y}", "b")));

    const examples = loadRecords(path);

    expect(examples.map((e) => e.messages[1].content)).toEqual(["b", "b"]);
    expect(examples[0].messages[0].content).toBe("a [x], {y}");
    const expected = { array: [2, 3], "train key": [2, 4], "data key": [1, 2] }[_name];
    expect(examples.map((e) => e.source.line)).toEqual(expected);
  });

  it("reads CSV with a header, quoted multi-line fields and an optional instruction", () => {
    const csv = 'instruction,input,output\n,hello,greeting\nSay it.,"two\nlines","a, b"\n';

    const examples = loadRecords(file("d.csv", csv));

    expect(examples.map((e) => [e.source.line, e.messages[0].content, e.messages[1].content]))
      .toEqual([[2, "hello", "greeting"], [3, "Say it.\ntwo\nlines", "a, b"]]);
  });

  it("takes the format from opts over the extension, and reads Latin-1 when asked", () => {
    const bytes = Buffer.from(`${pair("caf\u00e9", "x")}\n`, "latin1");

    const [ex] = loadRecords(file("data.txt", bytes), { format: "jsonl", encoding: "latin1" });

    expect(ex.messages[0].content).toBe("café");
  });

  it("drops a UTF-8 byte-order mark", () => {
    const [ex] = loadRecords(file("bom.jsonl", `\uFEFF${pair("a", "b")}`));

    expect(ex.messages[0].content).toBe("a");
  });
});

describe("loadRecords: bad input", () => {
  const bad: [string, string, string | Buffer, string, LoadOptions?][] = [
    ["malformed JSON line", "train.jsonl", `${pair("a", "b")}\n{"input": "a",\n`,
      "train.jsonl:2: not valid JSON ("],
    ["missing output", "train.jsonl", `${pair("a", "b")}\n\n{"input": "a"}\n`,
      'train.jsonl:3: field "output" is missing; ' +
        'each record needs "input" and "output", or "messages"'],
    ["missing input", "train.jsonl", '{"prompt": "a", "output": "b"}',
      'train.jsonl:1: field "input" is missing'],
    ["non-string output", "train.jsonl", '{"input": "a", "output": 3}',
      'train.jsonl:1: field "output" must be a string, got a number'],
    ["non-string instruction", "train.jsonl", '{"instruction": [], "input": "a", "output": "b"}',
      'train.jsonl:1: field "instruction" must be a string, got an array'],
    ["empty prompt", "train.jsonl", pair("", "b"),
      'train.jsonl:1: fields "instruction" and "input"'],
    ["empty output", "train.jsonl", pair("a", ""), 'train.jsonl:1: field "output" is empty'],
    ["not an object", "train.jsonl", `${pair("a", "b")}\n[1, 2]`,
      "train.jsonl:2: expected a JSON object, got an array"],
    ["wrong role", "chat.jsonl",
      '{"messages": [{"role": "human", "content": "a"}, {"role": "assistant", "content": "b"}]}',
      'chat.jsonl:1: messages[0].role is "human"; use "system", "user" or "assistant"'],
    ["chat ends with user", "chat.jsonl",
      '\n{"messages": [{"role": "user", "content": "a"}]}',
      'chat.jsonl:2: the last message is from "user"'],
    ["chat without user", "chat.jsonl", '{"messages": [{"role": "assistant", "content": "b"}]}',
      'chat.jsonl:1: messages has no "user" message'],
    ["empty messages", "chat.jsonl", '{"messages": []}', 'chat.jsonl:1: field "messages" must be'],
    ["non-string content", "chat.jsonl",
      '{"messages": [{"role": "user", "content": 1}, {"role": "assistant", "content": "b"}]}',
      "chat.jsonl:1: messages[0].content must be a string, got a number"],
    ["empty file", "train.jsonl", "\n\n", "train.jsonl: no records"],
    ["empty JSON array", "train.json", "[]", "train.json: no records"],
    ["JSON record index and line", "train.json", `[\n${pair("a", "b")},\n{"input": "a"}\n]`,
      'train.json:3: record 1: field "output" is missing'],
    ["JSON train key record", "train.json", `{"train": [${pair("a", "b")},\n\n{"input": 1}]}`,
      'train.json:3: record 1: field "input" must be a string'],
    ["broken JSON file", "train.json", '[\n{"input": "a",\n}\n]', "train.json:3: not valid JSON ("],
    ["trailing comma in an array", "train.json", '[\n {"input": "a", "output": "b"},\n ]\n',
      "train.json:3: not valid JSON ("],
    ["JSON of the wrong shape", "train.json", '{"rows": []}',
      'train.json: expected an array of records, or an object with a "train" or "data" array'],
    ["CSV missing column", "train.csv", "input,answer\na,b\n",
      'train.csv:2: field "output" is missing'],
    ["CSV ragged row", "train.csv", "input,output\na,b\nc,d,e\n", "train.csv:3: not valid CSV ("],
    ["unknown extension", "train.txt", pair("a", "b"),
      'train.txt: unknown extension ".txt"; use .jsonl, .json or .csv'],
    ["invalid UTF-8", "train.jsonl",
      Buffer.concat([Buffer.from(`${pair("a", "b")}\n{"input": "caf`),
      Buffer.from([0xe9]), Buffer.from('", "output": "b"}')]),
      "train.jsonl:2: not valid UTF-8 (byte 0xE9 at byte offset 41)"],
  ];

  it.each(bad)("%s", (_name, name, content, fragment, opts) => {
    const path = file(name, content);

    const load = () => loadRecords(path, opts);

    expect(load).toThrow(TunebookError);
    expect(load).toThrow(fragment);
  });

  it("names a missing file", () => {
    expect(() => loadRecords(join(tmp, "nope.jsonl"))).toThrow("nope.jsonl: file not found");
  });

  it("reports the real Latin-1 byte of SNIPS PlayMusic, and reads it as Latin-1 on request", () => {
    const path = "tests/fixtures/snips/train_PlayMusic_full.json";

    const load = () => loadRecords(path);

    expect(load).toThrow(
      /train_PlayMusic_full\.json:\d+: not valid UTF-8 \(byte 0xED at byte offset 150732\)/,
    );
    expect(load).toThrow('pass encoding: "latin1" (--encoding latin1) if the file is Latin-1');
    // Latin-1 decodes; the SNIPS shape is not an instruction record, which is the next error.
    expect(() => loadRecords(path, { encoding: "latin1" })).toThrow(
      "expected an array of records",
    );
  });
});

// The original CLINC150 file is development data beside the repository (../shared), not shipped.
describe.skipIf(!existsSync(`${DATA}/finetune/clinc150.json`))("loadClinc150", () => {
  // Read when the tests run: a skipped block's body still runs while tests are collected.
  let clinc: ReturnType<typeof loadClinc150>;
  beforeAll(() => {
    clinc = loadClinc150(`${DATA}/finetune/clinc150.json`);
  });

  it("reads the four splits as instruction examples", () => {
    expect([clinc.train.length, clinc.validation.length, clinc.oosTrain.length,
      clinc.oosValidation.length]).toEqual([15000, 3000, 100, 100]);
    expect(clinc.train[0].messages).toEqual([
      {
        role: "user",
        content: "what expression would i use to say i love you if i were an italian",
      },
      { role: "assistant", content: "translate" },
    ]);
    expect(clinc.oosTrain.every((e) => e.messages[1].content === "oos")).toBe(true);
  });

  it("lists the 150 in-scope intents, sorted", () => {
    expect(clinc.labels).toHaveLength(150);
    expect(clinc.labels).not.toContain("oos");
    expect([...clinc.labels].sort()).toEqual(clinc.labels);
  });

  it("matches the shipped JSONL copy", () => {
    const shipped = loadRecords("data/clinc150/validation.jsonl");

    expect(shipped.map((e) => e.messages)).toEqual(clinc.validation.map((e) => e.messages));
  });
});

describe("readPretrainCorpus", () => {
  const docs = readPretrainCorpus("data/pretrain");

  it("reads the .txt files in name order without Gutenberg licence text", () => {
    expect(docs.map((d) => d.name)).toEqual(["gutenberg_pg1342.txt", "gutenberg_pg2701.txt",
      "gutenberg_pg84.txt", "tinyshakespeare.txt", "wiki_sentences.txt"]);
    const licence = /\*\*\* (START|END) OF|GUTENBERG LICENSE|\uFEFF/;
    for (const d of docs) expect(d.text).not.toMatch(licence);
    expect(docs[2].text.startsWith("Frankenstein;")).toBe(true);
    expect(docs[2].text.trimEnd().endsWith("lost in darkness and distance.")).toBe(true);
  });

  it("keeps other files as they are", () => {
    expect(docs[3].text.startsWith("First Citizen:\nBefore we proceed")).toBe(true);
    expect(docs[3].text).toHaveLength(1115394);
  });

  it.each([
    ["header and footer", "licence\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nbody\n" +
      "*** END OF THE PROJECT GUTENBERG EBOOK X ***\nmore licence", "body\n"],
    ["no footer", "h\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n\nbody", "body\n"],
    ["no markers", "just text\n", "just text\n"],
  ])("strips Gutenberg markers: %s", (_name, text, body) => {
    expect(stripGutenberg(text)).toBe(body);
  });
});
