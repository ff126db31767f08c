// The Llama model on wasm: stories260K's reference greedy continuations, KV cache and padding
// agreement, LoRA (zero start, merge, load), trainable sets, saving, config checks, no leaks.
import * as tf from "@tensorflow/tfjs";
import { mkdtemp } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { initBackend } from "../lib/engine/backend.js";
import { TunebookError } from "../lib/errors.js";
import { type LlamaConfig, parseLlamaConfig, toHfConfig } from "../lib/model/config.js";
import { generate } from "../lib/model/generate.js";
import { LlamaModel } from "../lib/model/llama.js";

const STORIES = new URL("fixtures/stories260K-hf", import.meta.url).pathname;
// From the model folder's README (checked there against llama2.c's run.c).
const EXPECTED: { prompt: number[]; tokens: number[] }[] = [
  {
    prompt: [1],
    tokens: [461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283,
      452, 288, 13, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 293, 430, 417,
      363, 416, 315, 342],
  },
  {
    prompt: [1, 300],
    tokens: [422, 422, 422, 422, 422, 287, 315, 347, 356, 292, 372, 473, 473, 468, 386, 302, 331,
      377, 390, 365, 408, 288, 422, 422, 422, 422, 446, 1, 407, 341, 367, 427, 341, 341, 13, 472,
      472, 453, 303, 446],
  },
];

const TINY: LlamaConfig = {
  hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 4,
  vocabSize: 32, maxPositions: 64, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: false,
  bosTokenId: 1, eosTokenId: 2,
};

let stories: LlamaModel;

beforeAll(async () => {
  delete process.env.TUNEBOOK_BACKEND;
  expect(await initBackend()).toBe("wasm");
  stories = await LlamaModel.load(STORIES);
});

afterAll(() => stories.dispose());

/** Logits of a full forward, as nested arrays [B][T][V]. */
function logitsOf(model: LlamaModel, ids: number[][], mask?: number[][]): number[][][] {
  return tf.tidy(() => {
    const idT = tf.tensor2d(ids, undefined, "int32");
    const maskT = mask === undefined ? undefined : tf.tensor2d(mask);
    return model.forward(idT, { attentionMask: maskT }).arraySync();
  });
}

/** Gives an adapter matrix random values (B starts at zero, which would hide mistakes). */
function randomize(v: tf.Variable, std: number, seed: number): void {
  tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, std, "float32", seed)));
}

function maxAbsDiff(a: number[][][], b: number[][][]): number {
  return Math.max(...a.flat(2).map((x, i) => Math.abs(x - b.flat(2)[i])));
}

describe("stories260K", () => {
  it.each(EXPECTED)("greedy continuation of $prompt matches the reference", (e) => {
    const { prompt, tokens } = e;
    const out = generate(stories, [prompt], { maxNewTokens: 40, eosTokenId: null });

    expect(out).toEqual([tokens]);
  });

  it("gives the same continuations for a left-padded batch of both prompts", () => {
    const prompts = EXPECTED.map((e) => e.prompt);

    const out = generate(stories, prompts, { maxNewTokens: 40, eosTokenId: null });

    expect(out).toEqual(EXPECTED.map((e) => e.tokens));
  });

  it("cached decoding equals the argmax of uncached full forwards", () => {
    const seq = [1, 300];
    for (let step = 0; step < 12; step++) {
      const last = logitsOf(stories, [seq])[0][seq.length - 1];
      seq.push(last.indexOf(Math.max(...last)));
    }

    const cached = generate(stories, [[1, 300]], { maxNewTokens: 12, eosTokenId: null });

    expect(cached[0]).toEqual(seq.slice(2));
  });

  it("padding does not change the logits of real positions", () => {
    const plain = logitsOf(stories, [[1, 300, 301]]);

    const padded = logitsOf(stories, [[0, 0, 1, 300, 301]], [[0, 0, 1, 1, 1]]);

    // SIMD sums over a padded row group its terms differently: a few float32 ulps per layer.
    expect(maxAbsDiff([padded[0].slice(2)], plain)).toBeLessThan(5e-5);
  });

  it("stops a row at eos and leaves the eos out", () => {
    // Token 1 is produced at index 27 of the [1, 300] continuation.
    const out = generate(stories, [[1, 300], [1]], { maxNewTokens: 40, eosTokenId: 1 });

    expect(out[0]).toEqual(EXPECTED[1].tokens.slice(0, 27));
    expect(out[1]).toEqual(EXPECTED[0].tokens);
  });

  it("keeps the tensor count flat across forward and generate", () => {
    generate(stories, [[1, 5]], { maxNewTokens: 3, temperature: 0.8, topK: 5, seed: 1 });
    logitsOf(stories, [[1, 2, 3]]);
    const before = tf.memory().numTensors;

    for (let i = 0; i < 3; i++) {
      generate(stories, [[1, 5], [1]], { maxNewTokens: 4, temperature: 0.8, topK: 5, seed: i });
      logitsOf(stories, [[1, 2, 3]], [[1, 1, 1]]);
    }

    expect(tf.memory().numTensors).toBe(before);
  });

  it("samples reproducibly for a given seed", () => {
    const opts = { maxNewTokens: 10, temperature: 1, topK: 20, seed: 42, eosTokenId: null };

    const a = generate(stories, [[1]], opts);
    const b = generate(stories, [[1]], opts);

    expect(a).toEqual(b);
    expect(a[0]).toHaveLength(10);
  });
});

describe("LoRA", () => {
  const ids = [[1, 5, 9, 3, 7, 2]];
  const lora = { r: 4, alpha: 8, dropout: 0.1, targetModules: ["all-linear"], seed: 3 };

  it("starts as the base model (B = 0)", () => {
    const model = LlamaModel.random(TINY, 1);
    const base = logitsOf(model, ids);

    model.addLora(lora);

    expect(model.lora.size).toBe(2 * 7 * 2);
    expect(logitsOf(model, ids)).toEqual(base);
    model.dispose();
  });

  it("merging gives the output of the model with adapters", () => {
    const model = LlamaModel.random(TINY, 2);
    model.addLora({ ...lora, targetModules: ["q_proj", "v_proj", "down_proj"] });
    for (const [name, v] of model.lora) {
      if (name.includes("lora_B")) randomize(v, 0.2, 9);
    }
    const withAdapters = logitsOf(model, ids);
    const base = LlamaModel.fromTensors(TINY, model.namedTensors());

    model.mergeLora();

    expect(maxAbsDiff(logitsOf(base, ids), withAdapters)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(logitsOf(model, ids), withAdapters)).toBeLessThan(1e-5);
    expect(model.lora.size).toBe(0);
    base.dispose();
    model.dispose();
  });

  it("loadLora restores a saved adapter", () => {
    const model = LlamaModel.random(TINY, 4);
    model.addLora({ ...lora, targetModules: ["k_proj", "o_proj"] });
    for (const [name, v] of model.lora) {
      if (name.includes("lora_B")) randomize(v, 0.2, 5);
    }
    const other = LlamaModel.fromTensors(TINY, model.namedTensors());

    other.loadLora(model.loraTensors(), model.loraConfig!);

    expect(maxAbsDiff(logitsOf(other, ids), logitsOf(model, ids))).toBe(0);
    expect([...other.lora.keys()]).toContain(
      "base_model.model.model.layers.1.self_attn.o_proj.lora_A.weight",
    );
    other.dispose();
    model.dispose();
  });

  it("rejects an unknown target module", () => {
    const model = LlamaModel.random(TINY, 1);

    expect(() => model.addLora({ ...lora, targetModules: ["qkv"] })).toThrow(
      /"qkv" is not a Llama linear layer/,
    );
    model.dispose();
  });
});

describe("trainableVariables", () => {
  // TINY: embed + lm_head + norm = 3 tensors, 9 per layer; LoRA on q,v = 2 layers * 2 * 2.
  const cases: { opts: Parameters<LlamaModel["trainableVariables"]>[0]; count: number }[] = [
    { opts: { method: "lora" }, count: 8 },
    { opts: { method: "full" }, count: 21 },
    { opts: { method: "freeze" }, count: 20 },
    { opts: { method: "freeze", freezeLayers: 1 }, count: 11 },
    { opts: { method: "freeze", freezeLayers: 2 }, count: 2 },
  ];

  it.each(cases)("$opts gives $count variables", ({ opts, count }) => {
    const model = LlamaModel.random(TINY, 1);
    model.addLora({ r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj", "v_proj"] });

    const vars = model.trainableVariables(opts);

    expect(vars.size).toBe(count);
    model.dispose();
  });

  it("trains every variable it names on wasm (gradients are finite and non-zero)", () => {
    const model = LlamaModel.random({ ...TINY, tieWordEmbeddings: true }, 5);
    const vars = model.trainableVariables({ method: "full" });
    const ids = tf.tensor2d([[1, 4, 4, 9], [3, 3, 8, 1]], undefined, "int32");

    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(ids, { training: true });
      const labels = tf.oneHot(tf.reshape(ids, [-1]), TINY.vocabSize);
      return tf.losses.softmaxCrossEntropy(labels, tf.reshape(logits, [-1, TINY.vocabSize]));
    }, [...vars.values()]);

    expect(Object.keys(grads)).toHaveLength(vars.size);
    for (const g of Object.values(grads)) {
      const norm = tf.tidy(() => tf.norm(g).dataSync()[0]);
      expect(Number.isFinite(norm) && norm > 0).toBe(true);
    }
    const loss = value.dataSync()[0];
    expect(loss > 0 && loss < Math.log(TINY.vocabSize) + 0.1).toBe(true);
    tf.dispose([ids, value, ...Object.values(grads)]);
    model.dispose();
  });
});

describe("gradients with frozen weights", () => {
  /** LoRA gradients, with the base either frozen (trainable = false) or not. */
  function loraGrads(freezeBase: boolean): Map<string, number[]> {
    const model = LlamaModel.random({ ...TINY, tieWordEmbeddings: true }, 6);
    model.addLora({ r: 2, alpha: 4, dropout: 0, targetModules: ["all-linear"], seed: 1 });
    for (const [name, v] of model.lora) {
      if (name.includes("lora_B")) randomize(v, 0.1, 2);
    }
    const vars = freezeBase
      ? model.trainableVariables({ method: "lora" })
      : new Map(model.lora);
    const ids = tf.tensor2d([[1, 4, 4, 9, 2]], undefined, "int32");

    const { value, grads } = tf.variableGrads(() => {
      const logits = tf.reshape(model.forward(ids, { training: true }), [-1, TINY.vocabSize]);
      const labels = tf.oneHot(tf.reshape(ids, [-1]), TINY.vocabSize);
      return tf.losses.softmaxCrossEntropy(labels, logits);
    }, [...vars.values()]);

    const byName = new Map<string, number[]>();
    for (const [name, v] of vars) byName.set(name, Array.from(grads[v.name].dataSync()));
    tf.dispose([ids, value, ...Object.values(grads)]);
    model.dispose();
    return byName;
  }

  it("gives LoRA the same gradients whether the base is frozen or not", () => {
    const before = tf.memory().numTensors;

    const frozen = loraGrads(true);
    const open = loraGrads(false);

    expect(frozen.size).toBe(2 * 7 * 2);
    for (const [name, g] of open) {
      const f = frozen.get(name)!;
      expect(Math.max(...g.map((x, i) => Math.abs(x - f[i])))).toBeLessThan(1e-6);
    }
    expect(Math.max(...frozen.get(
      "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
    )!.map(Math.abs))).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("marks only the chosen variables trainable", () => {
    const model = LlamaModel.random(TINY, 1);
    model.addLora({ r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj"] });

    model.trainableVariables({ method: "freeze", freezeLayers: 1 });

    const trainable = [...model.params].filter(([, v]) => v.trainable).map(([n]) => n);
    expect(trainable).toContain("model.layers.1.mlp.up_proj.weight");
    expect(trainable).not.toContain("model.layers.0.mlp.up_proj.weight");
    expect(trainable).not.toContain("model.embed_tokens.weight");
    expect([...model.lora.values()].some((v) => v.trainable)).toBe(false);
    model.dispose();
  });
});

describe("save and load", () => {
  it("round-trips a model folder", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "tunebook-model-"));
    const model = LlamaModel.random(TINY, 7);

    await model.save(dir);
    const back = await LlamaModel.load(dir);

    expect(back.config).toEqual({ ...TINY, eosTokenIds: [2] });
    expect(logitsOf(back, [[1, 2, 3]])).toEqual(logitsOf(model, [[1, 2, 3]]));
    expect(back.numParameters()).toBe(model.numParameters());
    back.dispose();
    model.dispose();
  });
});

describe("parseLlamaConfig", () => {
  const good = toHfConfig(TINY);
  const cases: { change: Record<string, unknown>; error: RegExp }[] = [
    { change: { model_type: "qwen2" }, error: /field "model_type" is "qwen2"/ },
    { change: { architectures: ["GPT2LMHeadModel"] }, error: /field "architectures"/ },
    { change: { hidden_act: "gelu" }, error: /field "hidden_act" is "gelu"/ },
    { change: { hidden_size: 0 }, error: /field "hidden_size" is 0; expected an integer >= 1/ },
    { change: { num_key_value_heads: 3 }, error: /field "num_key_value_heads" \(3\) must divide/ },
    { change: { vocab_size: undefined }, error: /field "vocab_size" is missing/ },
    { change: { rms_norm_eps: "small" }, error: /field "rms_norm_eps" is "small"/ },
    { change: { rope_scaling: { type: "llama3" } }, error: /field "rope_scaling" is set/ },
  ];

  it.each(cases)("rejects $change", ({ change, error }) => {
    const json = { ...good, ...change };

    const parse = (): LlamaConfig => parseLlamaConfig(json, "config.json");

    expect(parse).toThrow(TunebookError);
    expect(parse).toThrow(new RegExp(`^config\\.json: ${error.source}`));
  });

  it("reads a list of eos ids and a default head width", () => {
    const json = { ...good, eos_token_id: [2, 5], head_dim: undefined };

    const cfg = parseLlamaConfig(json, "config.json");

    expect(cfg.eosTokenId).toBe(2);
    expect(cfg.eosTokenIds).toEqual([2, 5]);
    expect(cfg.headDim).toBe(4);
  });
});
