// Writes and reads LoRA adapters as Hugging Face PEFT folders (adapter_config.json,
// adapter_model.safetensors, README.md), so `PeftModel.from_pretrained` can load them.
import { readFile, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";

import { TunebookError } from "../errors.js";
import { readSafetensors, writeSafetensors, type NamedTensor } from "../model/safetensors.js";
import { writeFolderAtomically, type FolderWriteOptions } from "./atomic.js";
import { checkConfigJson, fromConfigJson, stringifySorted, toConfigJson } from "./peft-config.js";
import type { PeftLoraConfig } from "./peft-config.js";

export type { PeftLoraConfig } from "./peft-config.js";

export const CONFIG_FILE = "adapter_config.json";
export const WEIGHTS_FILE = "adapter_model.safetensors";

/**
 * An adapter in memory. Tensors go under their PEFT names:
 * `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` [r, in] and
 * `….lora_B.weight` [out, r]; modules saved whole as e.g. `base_model.model.lm_head.weight`.
 */
export interface PeftAdapter {
  tensors: Map<string, NamedTensor>;
  config: PeftLoraConfig;
  /** Model card text for README.md; a card is generated from the config when absent. */
  readme?: string;
}

const LORA_NAME = /^base_model\.model\.(.+)\.lora_(A|B)\.weight$/;
const FULL_NAME = /^base_model\.model\.(.+)\.(weight|bias)$/;

/** Writes `dir` as a PEFT adapter folder, all at once or not at all. */
export async function writePeftAdapter(
  dir: string,
  adapter: PeftAdapter & FolderWriteOptions,
): Promise<void> {
  const json = checkAdapter(adapter);
  await writeFolderAtomically(dir, (tmp) => writeFiles(tmp, adapter, json), adapter);
}

/** Checks an adapter and writes its three files into an existing folder (for atomic writers). */
export async function writePeftFiles(dir: string, adapter: PeftAdapter): Promise<void> {
  await writeFiles(dir, adapter, checkAdapter(adapter));
}

/** Validates config and tensors before anything touches the disk; returns the config JSON. */
function checkAdapter(adapter: PeftAdapter): Record<string, unknown> {
  if (adapter === null || typeof adapter !== "object") {
    throw new TunebookError("writePeftAdapter: pass { tensors, config }");
  }
  const json = checkConfigJson(toConfigJson(adapter.config), "writePeftAdapter: config", true);
  checkTensors(adapter.tensors, json, "writePeftAdapter: tensors");
  return json;
}

async function writeFiles(
  dir: string,
  adapter: PeftAdapter,
  json: Record<string, unknown>,
): Promise<void> {
  await writeFile(path.join(dir, CONFIG_FILE), `${stringifySorted(json)}\n`);
  await writeSafetensors(path.join(dir, WEIGHTS_FILE), adapter.tensors, { format: "pt" });
  await writeFile(path.join(dir, "README.md"), adapter.readme ?? modelCard(adapter));
}

/** Reads and checks a PEFT LoRA folder; errors name the file, field or tensor to fix. */
export async function readPeftAdapter(
  dir: string,
): Promise<{ config: PeftLoraConfig; tensors: Map<string, NamedTensor> }> {
  const configPath = path.join(dir, CONFIG_FILE);
  const weightsPath = path.join(dir, WEIGHTS_FILE);
  if (!(await isFile(configPath))) {
    throw new TunebookError(`${dir}: no ${CONFIG_FILE}; is this a PEFT adapter folder?`);
  }
  if (!(await isFile(weightsPath))) {
    const hasBin = await isFile(path.join(dir, "adapter_model.bin"));
    throw new TunebookError(
      `${dir}: no ${WEIGHTS_FILE}` +
        (hasBin ? "; only adapter_model.bin is there: save it again with safe_serialization" : ""),
    );
  }

  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath, "utf8"));
  } catch (err) {
    throw new TunebookError(`${CONFIG_FILE}: not valid JSON (${(err as Error).message})`);
  }
  const json = checkConfigJson(raw, CONFIG_FILE, false);
  const tensors: Map<string, NamedTensor> = await readSafetensors(weightsPath);
  checkTensors(tensors, json, WEIGHTS_FILE);
  return { config: fromConfigJson(json), tensors };
}

// ---- tensors ----

function matchesModule(module: string, names: string[]): boolean {
  return names.some((n) => module === n || module.endsWith(`.${n}`));
}

function shapeText(shape: number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Checks names, shapes against r, A/B pairing and values; `where` starts each message. */
function checkTensors(
  tensors: Map<string, NamedTensor>,
  json: Record<string, unknown>,
  where: string,
): void {
  if (!(tensors instanceof Map) || tensors.size === 0) {
    throw new TunebookError(`${where}: the adapter has no tensors; train it before exporting`);
  }
  const r = json.r as number;
  const targets = json.target_modules as string[];
  const saved = (json.modules_to_save as string[] | null | undefined) ?? [];
  const halves = new Map<string, Set<string>>();

  for (const [name, t] of tensors) {
    const fail = (msg: string): never => {
      throw new TunebookError(`${where}: tensor "${name}" ${msg}`);
    };
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.values instanceof Float32Array) || t.values.length !== size) {
      fail(`has shape ${shapeText(t.shape)} but ${t.values?.length} values; pass Float32 values`);
    }
    const bad = t.values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      fail(`holds ${t.values[bad]} at index ${bad}; training diverged, lower the learning rate`);
    }

    const lora = LORA_NAME.exec(name);
    if (lora) {
      const [, module, half] = lora;
      if (!matchesModule(module, targets)) {
        fail(`adapts "${module}", which target_modules ${JSON.stringify(targets)} does not name`);
      }
      const rankAt = half === "A" ? 0 : 1;
      const want = half === "A" ? `[r, in] = [${r}, in]` : `[out, r] = [out, ${r}]`;
      if (t.shape.length !== 2 || t.shape[rankAt] !== r) {
        fail(`has shape ${shapeText(t.shape)}; lora_${half} must be ${want} (config "r" = ${r})`);
      }
      if (!halves.has(module)) halves.set(module, new Set());
      halves.get(module)!.add(half);
      continue;
    }

    const full = FULL_NAME.exec(name);
    if (full && matchesModule(full[1], saved)) continue;
    fail(
      `is not a PEFT LoRA name (base_model.model.<module>.lora_A.weight / .lora_B.weight) ` +
        `nor a module listed in modules_to_save; rename it or add its module there`,
    );
  }

  for (const [module, seen] of halves) {
    if (seen.size !== 2) {
      const missing = seen.has("A") ? "lora_B" : "lora_A";
      throw new TunebookError(
        `${where}: "${module}" has no ${missing} weight; every adapted module needs both halves`,
      );
    }
  }
}

// ---- model card ----

function modelCard(adapter: PeftAdapter): string {
  const c = adapter.config;
  let params = 0;
  for (const t of adapter.tensors.values()) params += t.values.length;
  const scale = c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
  const rows = [
    ["Base model", `\`${c.baseModelNameOrPath}\``],
    ["Rank (r)", String(c.r)],
    ["Alpha (lora_alpha)", `${c.loraAlpha} (scale ${Number(scale.toFixed(6))})`],
    ["Dropout (lora_dropout)", String(c.loraDropout)],
    ["Target modules", [...c.targetModules].sort().join(", ")],
    ["Modules saved whole", c.modulesToSave?.length ? c.modulesToSave.join(", ") : "none"],
    ["Tensors", `${adapter.tensors.size} (${params.toLocaleString("en-US")} parameters)`],
  ];
  return [
    "---",
    `base_model: ${JSON.stringify(c.baseModelNameOrPath)}`,
    "library_name: peft",
    "tags:",
    "- lora",
    "- tunebook",
    "---",
    "",
    `# LoRA adapter for ${c.baseModelNameOrPath}`,
    "",
    "Fine-tuned with tunebook.",
    "",
    "| Setting | Value |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    "## Use with PEFT (Python)",
    "",
    "```python",
    "from peft import PeftModel",
    "from transformers import AutoModelForCausalLM",
    "",
    `base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(c.baseModelNameOrPath)})`,
    `model = PeftModel.from_pretrained(base, "path/to/this/folder")`,
    "```",
    "",
  ].join("\n");
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
