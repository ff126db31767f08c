// Exports a session as a run folder (run.json, metrics.json, report.md, adapter/ in PEFT format,
// and merged weights on request) and opens such a folder again for evaluation or generation.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describeBackend } from "../engine/backend.js";
import { TunebookError } from "../errors.js";
import { toHfConfig } from "../model/config.js";
import { resolveModel } from "../model/hub.js";
import { LlamaModel } from "../model/llama.js";
import { resolveTargets } from "../model/lora.js";
import { writeSafetensors } from "../model/safetensors.js";
import type { Session } from "../session.js";
import { Tokenizer } from "../tokens/tokenizer.js";
import { readPeftAdapter } from "./peft.js";
import { readRunFolder, writeRunFolder } from "./run-folder.js";

export interface ExportOptions {
  /** Also write merged/: a full Hugging Face model folder with the adapter folded in. */
  merged?: boolean;
}

/** Writes the session's run folder; an existing folder at `dir` is replaced whole. */
export async function exportRun(session: Session, dir: string, opts: ExportOptions = {}) {
  const method = session.method;
  if (method === undefined) {
    throw new TunebookError("nothing to export yet: train first (session.train())");
  }
  const target = path.resolve(dir);
  const base = portablePath(session.baseModel, target);
  const lora = method.method === "lora" ? session.model.loraConfig : null;
  const adapter =
    lora === null
      ? undefined
      : {
          tensors: session.model.loraTensors(),
          config: {
            r: lora.r,
            loraAlpha: lora.alpha,
            loraDropout: lora.dropout,
            targetModules: resolveTargets(lora),
            baseModelNameOrPath: base,
            useRslora: lora.useRslora ?? false,
          },
        };
  const withWeights = opts.merged === true || lora === null;

  await writeRunFolder(
    target,
    {
      runJson: runJson(session, base),
      metrics: metricsJson(session),
      adapter,
      extra: withWeights ? (tmp) => writeMerged(session, path.join(tmp, "merged")) : undefined,
    },
    { overwrite: true, marker: "run.json" },
  );
}

/** The run's settings: what a later `tunebook eval` or a person needs to reproduce it. */
function runJson(session: Session, base: string): Record<string, unknown> {
  const run = session.run;
  const data = session.data;
  return {
    tunebook_version: "0.1.0",
    created: new Date().toISOString(),
    backend: describeBackend(),
    goal: session.goal ?? null,
    base_model: base,
    tokenizer: base,
    chat_template: session.tokenizer.chatTemplate ?? null,
    method: session.method,
    hyperparameters: run === undefined ? {} : hyperparameters(session),
    data: {
      train: data?.train.size ?? 0,
      validation: data?.validation.size ?? 0,
    },
    data_files: session.dataFiles,
    labels: data === undefined ? [] : session.labels(),
    tokens: session.tokenReport ?? null,
    training: run === undefined
      ? null
      : {
          status: run.status,
          steps: run.step,
          total_steps: run.totalSteps,
          final_loss: run.steps.at(-1)?.loss ?? null,
          evals: run.evals,
          changes: run.changes,
          loss_curve: run.steps.map((s) => [s.step, round(s.loss), s.learningRate]),
        },
    history: session.history,
  };
}

/** The settings a reader of report.md wants: method and adapter first, then the loop's. */
function hyperparameters(session: Session): Record<string, unknown> {
  const { padId: _pad, ...loop } = { ...session.run!.options, ...session.run!.settings };
  const m = session.method!;
  const lora = m.lora === undefined
    ? {}
    : {
        lora_r: m.lora.r,
        lora_alpha: m.lora.alpha,
        lora_dropout: m.lora.dropout,
        target_modules: resolveTargets(m.lora).join(","),
      };
  const freeze = m.freezeLayers === undefined ? {} : { freezeLayers: m.freezeLayers };
  return { method: m.method, ...lora, ...freeze, ...loop };
}

function metricsJson(session: Session): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (session.baseline !== undefined) out.baseline = session.baseline;
  for (const e of session.evaluations) out[e.label] = e;
  return out;
}

/** A full model folder with every adapter folded into its base weight. */
async function writeMerged(session: Session, dir: string): Promise<void> {
  await mkdir(dir);
  const model = session.model;
  await writeSafetensors(path.join(dir, "model.safetensors"), model.mergedTensors(), { format: "pt" });
  const config = JSON.stringify(toHfConfig(model.config), null, 2) + "\n";
  await writeFile(path.join(dir, "config.json"), config);
  await session.tokenizer.save(dir);
}

/** A model ready to answer, from a run folder: base model plus adapter, or merged weights. */
export async function openRun(
  dir: string,
): Promise<{ model: LlamaModel; tokenizer: Tokenizer; runJson: Record<string, unknown> }> {
  const folder = await readRunFolder(dir);
  const runJson = folder.runJson;
  const mergedDir = path.join(dir, "merged");
  if (existsSync(path.join(mergedDir, "model.safetensors"))) {
    const [model, tokenizer] = await Promise.all([LlamaModel.load(mergedDir), Tokenizer.load(mergedDir)]);
    return { model, tokenizer, runJson };
  }
  if (folder.adapterDir === null) {
    throw new TunebookError(`${dir}: the run folder has neither adapter/ nor merged/`);
  }
  const base = runJson.base_model;
  if (typeof base !== "string") {
    throw new TunebookError(`${path.join(dir, "run.json")}: field "base_model" is missing`);
  }
  const baseDir = await resolveModel(isLocal(base) ? path.resolve(dir, base) : base);
  const [model, tokenizer] = await Promise.all([LlamaModel.load(baseDir), Tokenizer.load(baseDir)]);
  await attachAdapter(model, folder.adapterDir);
  return { model, tokenizer, runJson };
}

/** Reads a PEFT adapter folder and attaches it to the model (base weights stay as they are). */
export async function attachAdapter(model: LlamaModel, adapterDir: string): Promise<void> {
  const adapter = await readPeftAdapter(adapterDir);
  model.loadLora(adapter.tensors, {
    r: adapter.config.r,
    alpha: adapter.config.loraAlpha,
    dropout: adapter.config.loraDropout,
    targetModules: adapter.config.targetModules,
    useRslora: adapter.config.useRslora,
  });
}

/** Local base models are recorded relative to the run folder, so the pair can move together. */
function portablePath(baseModel: string, runDir: string): string {
  if (!isLocal(baseModel) && !existsSync(baseModel)) return baseModel;
  return path.relative(runDir, path.resolve(baseModel)) || ".";
}

function isLocal(name: string): boolean {
  return name.startsWith(".") || name.startsWith("/") || existsSync(name);
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}
