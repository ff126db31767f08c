// PEFT adapter folders: round trip, the exact adapter_config.json keys, tensor names, and
// errors for bad configs, bad tensors and bad folders, with nothing left behind on failure.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { TunebookError } from "../lib/errors.js";
import {
  readPeftAdapter,
  writePeftAdapter,
  type PeftLoraConfig,
  type PeftAdapter,
} from "../lib/export/peft.js";
import {
  readSafetensorsHeader,
  writeSafetensors,
  type NamedTensor,
} from "../lib/model/safetensors.js";

const PEFT_KEYS = [
  "alpha_pattern", "base_model_name_or_path", "bias", "fan_in_fan_out", "inference_mode",
  "init_lora_weights", "layers_to_transform", "lora_alpha", "lora_dropout", "modules_to_save",
  "peft_type", "r", "rank_pattern", "revision", "target_modules", "task_type", "use_dora",
  "use_rslora",
];

const CONFIG: PeftLoraConfig = {
  r: 2,
  loraAlpha: 4,
  loraDropout: 0.05,
  targetModules: ["v_proj", "q_proj"],
  baseModelNameOrPath: "tunebook/base-tiny",
  modulesToSave: ["lm_head"],
};

function tensor(shape: number[], seed: number): NamedTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Float32Array.from({ length: n }, (_, i) => (i * 0.25 + seed) / 8) };
}

/** Two layers, q_proj [8 -> 8] and v_proj [8 -> 4] (grouped-query), r = 2, plus lm_head. */
function adapterTensors(): Map<string, NamedTensor> {
  const t = new Map<string, NamedTensor>();
  for (let i = 0; i < 2; i++) {
    const p = `base_model.model.model.layers.${i}.self_attn`;
    t.set(`${p}.q_proj.lora_A.weight`, tensor([2, 8], i));
    t.set(`${p}.q_proj.lora_B.weight`, tensor([8, 2], i + 1));
    t.set(`${p}.v_proj.lora_A.weight`, tensor([2, 8], i + 2));
    t.set(`${p}.v_proj.lora_B.weight`, tensor([4, 2], i + 3));
  }
  t.set("base_model.model.lm_head.weight", tensor([16, 8], 7));
  return t;
}

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "tunebook-peft-"));
  dir = path.join(root, "adapter");
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("writePeftAdapter / readPeftAdapter", () => {
  it("round-trips config and tensors", async () => {
    const tensors = adapterTensors();

    await writePeftAdapter(dir, { tensors, config: CONFIG });
    const back = await readPeftAdapter(dir);

    expect(back.config).toEqual({
      ...CONFIG,
      targetModules: ["q_proj", "v_proj"],
      useRslora: false,
    });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      expect(back.tensors.get(name)!.shape).toEqual(t.shape);
      expect(back.tensors.get(name)!.values).toEqual(t.values);
    }
  });

  it("writes exactly the well-known PEFT keys, sorted and pretty-printed", async () => {
    await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG });

    const text = await readFile(path.join(dir, "adapter_config.json"), "utf8");
    const json = JSON.parse(text);
    expect(Object.keys(json)).toEqual(PEFT_KEYS);
    expect(text.startsWith('{\n  "alpha_pattern": {},\n  "base_model_name_or_path"')).toBe(true);
    expect(json).toMatchObject({
      peft_type: "LORA",
      task_type: "CAUSAL_LM",
      r: 2,
      lora_alpha: 4,
      lora_dropout: 0.05,
      target_modules: ["q_proj", "v_proj"],
      modules_to_save: ["lm_head"],
      bias: "none",
      revision: null,
      inference_mode: true,
      layers_to_transform: null,
      rank_pattern: {},
      use_rslora: false,
      use_dora: false,
    });
  });

  it("writes the safetensors with PEFT tensor names and format metadata, and a card", async () => {
    await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG });

    const header = await readSafetensorsHeader(path.join(dir, "adapter_model.safetensors"));
    const card = await readFile(path.join(dir, "README.md"), "utf8");
    expect(header.metadata).toEqual({ format: "pt" });
    expect(header.tensors.get("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"))
      .toEqual({ dtype: "F32", shape: [4, 2] });
    expect(header.tensors.size).toBe(9);
    expect(card).toMatch(/^---\nbase_model: "tunebook\/base-tiny"\nlibrary_name: peft\n/);
    expect(card).toContain("| Rank (r) | 2 |");
    expect(card).toContain("PeftModel.from_pretrained");
    expect((await readdir(root)).sort()).toEqual(["adapter"]);
  });

  it("writes a given README verbatim and writes modules_to_save null when unset", async () => {
    const tensors = adapterTensors();
    tensors.delete("base_model.model.lm_head.weight");

    await writePeftAdapter(dir, {
      tensors,
      config: { ...CONFIG, modulesToSave: undefined },
      readme: "# mine\n",
    });

    const json = JSON.parse(await readFile(path.join(dir, "adapter_config.json"), "utf8"));
    expect(json.modules_to_save).toBeNull();
    expect(await readFile(path.join(dir, "README.md"), "utf8")).toBe("# mine\n");
  });

  it("refuses an existing folder unless overwrite is set", async () => {
    await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG });

    await expect(
      writePeftAdapter(dir, { tensors: adapterTensors(), config: { ...CONFIG, r: 2 } }),
    ).rejects.toThrow(/already exists.*overwrite: true/);
    await writePeftAdapter(dir, {
      tensors: adapterTensors(),
      config: { ...CONFIG, loraAlpha: 8 },
      overwrite: true,
    });

    expect((await readPeftAdapter(dir)).config.loraAlpha).toBe(8);
    expect(await readdir(root)).toEqual(["adapter"]);
  });
});

describe("writePeftAdapter rejects bad input and leaves nothing behind", () => {
  type Case = [string, Partial<PeftLoraConfig>, (t: Map<string, NamedTensor>) => void, RegExp];
  const none = () => {};
  const q0 = "base_model.model.model.layers.0.self_attn.q_proj";
  const cases: Case[] = [
    ["rank 0", { r: 0 }, none, /"r" must be a positive integer \(the LoRA rank\); got 0/],
    ["fractional rank", { r: 2.5 }, none, /"r" must be a positive integer/],
    ["negative alpha", { loraAlpha: -1 }, none, /"lora_alpha" \(loraAlpha\) must be a .*got -1/],
    ["dropout 1", { loraDropout: 1 }, none, /"lora_dropout" \(loraDropout\)/],
    ["no target modules", { targetModules: [] }, none, /"target_modules" \(targetModules\)/],
    ["all-linear", { targetModules: ["all-linear"] }, none, /the module names that "all-linear"/],
    ["no base model", { baseModelNameOrPath: "" }, none, /"base_model_name_or_path"/],
    ["bad modules_to_save", { modulesToSave: [""] }, none, /"modules_to_save"/],
    [
      "a non-PEFT tensor name",
      {},
      (t) => t.set("model.layers.0.self_attn.q_proj.weight", tensor([2, 2], 0)),
      /"model.layers.0.self_attn.q_proj.weight" is not a PEFT LoRA name/,
    ],
    [
      "a full tensor not in modules_to_save",
      {},
      (t) => t.set("base_model.model.model.embed_tokens.weight", tensor([16, 8], 0)),
      /embed_tokens.weight" is not a PEFT LoRA name.*modules_to_save/,
    ],
    [
      "lora_A rank unlike r",
      {},
      (t) => t.set(`${q0}.lora_A.weight`, tensor([3, 8], 0)),
      /q_proj.lora_A.weight" has shape \[3, 8\]; lora_A must be \[r, in\] = \[2, in\]/,
    ],
    [
      "lora_B rank unlike r",
      {},
      (t) => t.set(`${q0}.lora_B.weight`, tensor([8, 3], 0)),
      /lora_B must be \[out, r\] = \[out, 2\]/,
    ],
    [
      "a missing lora_B",
      {},
      (t) => t.delete(`${q0}.lora_B.weight`),
      /self_attn.q_proj" has no lora_B weight/,
    ],
    [
      "a module outside target_modules",
      {},
      (t) => {
        t.set(`base_model.model.model.layers.0.mlp.up_proj.lora_A.weight`, tensor([2, 8], 0));
      },
      /adapts "model.layers.0.mlp.up_proj", which target_modules/,
    ],
    [
      "a NaN value",
      {},
      (t) => t.get(`${q0}.lora_A.weight`)!.values.fill(NaN, 3, 4),
      /holds NaN at index 3; training diverged/,
    ],
    [
      "values that do not fill the shape",
      {},
      (t) => t.set(`${q0}.lora_A.weight`, { shape: [2, 8], values: new Float32Array(5) }),
      /has shape \[2, 8\] but 5 values/,
    ],
  ];

  it.each(cases)("%s", async (_name, change, edit, message) => {
    const tensors = adapterTensors();
    edit(tensors);

    const write = writePeftAdapter(dir, { tensors, config: { ...CONFIG, ...change } });

    await expect(write).rejects.toThrow(TunebookError);
    await expect(write).rejects.toThrow(message);
    expect(await readdir(root)).toEqual([]);
  });

  it("removes the half-written folder when a write fails after the weights", async () => {
    const adapter = { tensors: adapterTensors(), config: CONFIG, readme: 42 };

    const write = writePeftAdapter(dir, adapter as unknown as PeftAdapter);

    await expect(write).rejects.toThrow();
    expect(await readdir(root)).toEqual([]);
  });
});

describe("readPeftAdapter rejects bad folders", () => {
  type Edit = (json: Record<string, unknown>) => void;
  const cases: [string, Edit, RegExp][] = [
    ["another PEFT type", (j) => (j.peft_type = "IA3"), /"peft_type" must be "LORA".*got "IA3"/],
    ["rank as text", (j) => (j.r = "2"), /adapter_config.json: field "r" must be a positive/],
    ["a missing lora_alpha", (j) => delete j.lora_alpha, /"lora_alpha".*it is missing/],
    [
      "target_modules as a regex",
      (j) => (j.target_modules = ".*proj"),
      /"target_modules" must be a list of module names; a regular expression/,
    ],
    ["DoRA", (j) => (j.use_dora = true), /"use_dora" must be false/],
    ["a rank pattern", (j) => (j.rank_pattern = { q_proj: 4 }), /"rank_pattern" must be \{\}/],
    ["bias terms", (j) => (j.bias = "all"), /"bias" must be "none"/],
    ["another task", (j) => (j.task_type = "SEQ_CLS"), /"task_type" must be "CAUSAL_LM"/],
    [
      "a rank unlike the tensors",
      (j) => (j.r = 4),
      /adapter_model.safetensors: tensor ".*lora_A.weight" has shape \[2, 8\]/,
    ],
  ];

  it.each(cases)("%s", async (_name, edit, message) => {
    await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG });
    const file = path.join(dir, "adapter_config.json");
    const json = JSON.parse(await readFile(file, "utf8"));
    edit(json);
    await writeFile(file, JSON.stringify(json));

    const read = readPeftAdapter(dir);

    await expect(read).rejects.toThrow(TunebookError);
    await expect(read).rejects.toThrow(message);
  });

  it("names tensors that are not PEFT LoRA names", async () => {
    await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG });
    const tensors = adapterTensors();
    tensors.set("lora_A", tensor([2, 8], 0));
    await writeSafetensors(path.join(dir, "adapter_model.safetensors"), tensors);

    await expect(readPeftAdapter(dir)).rejects.toThrow(/tensor "lora_A" is not a PEFT LoRA name/);
  });

  it.each([
    ["no folder", async () => {}, /no adapter_config.json/],
    [
      "broken JSON",
      async () => {
        await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG });
        await writeFile(path.join(dir, "adapter_config.json"), "{ r: 2");
      },
      /adapter_config.json: not valid JSON/,
    ],
    [
      "only a .bin file",
      async () => {
        await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG });
        await rm(path.join(dir, "adapter_model.safetensors"));
        await writeFile(path.join(dir, "adapter_model.bin"), "");
      },
      /no adapter_model.safetensors; only adapter_model.bin/,
    ],
  ])("%s", async (_name, arrange, message) => {
    await arrange();

    await expect(readPeftAdapter(dir)).rejects.toThrow(message);
  });

  it("ignores keys newer PEFT versions add", async () => {
    await mkdir(dir, { recursive: true });
    await writePeftAdapter(dir, { tensors: adapterTensors(), config: CONFIG, overwrite: true });
    const file = path.join(dir, "adapter_config.json");
    const json = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...json, exclude_modules: null, megatron_core: "x" }));

    expect((await readPeftAdapter(dir)).config.r).toBe(2);
    expect(existsSync(path.join(dir, "README.md"))).toBe(true);
  });
});
