// Fine-tuning config files: JSON with goal, base model, data, training and evaluation settings.
// Relative paths are resolved against the config file's folder.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { TunebookError } from "../errors.js";
import type { Goal, TrainOptions } from "../session.js";

export interface FinetuneConfig {
  goal: string;
  answer: Goal["answer"];
  requiredKeys?: string[];
  baseModel: string;
  data: {
    train: string;
    validation?: string;
    validationFraction?: number;
    encoding?: "utf-8" | "latin1";
    maxLength?: number;
    overLength?: "drop" | "truncate" | "error";
  };
  train: TrainOptions;
  /** How many validation examples to evaluate before and after training (null: all). */
  eval: { before: number | null; after: number | null; baseline: boolean };
  out: string;
}

export const DEMO_CONFIG = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  import.meta.url.includes("/dist/") ? "../../../configs/clinc150.json" : "../../configs/clinc150.json",
);

const TRAIN_KEYS = new Set([
  "method", "lora", "freezeLayers", "epochs", "batchSize", "gradientAccumulation",
  "learningRate", "warmupRatio", "minLearningRateRatio", "weightDecay", "maxGradNorm",
  "evalEvery", "maxSteps", "seed", "checkpointDir",
]);

export function readConfig(file: string): FinetuneConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new TunebookError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code})`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new TunebookError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const at = (p: string) => path.resolve(path.dirname(file), p);
  const field = (name: string, value: unknown, type: string): void => {
    if (typeof value !== type) {
      throw new TunebookError(`${file}: field "${name}" must be a ${type}, got ${JSON.stringify(value)}`);
    }
  };

  const data = (raw.data ?? {}) as Record<string, unknown>;
  field("data.train", data.train, "string");
  if (data.validation !== undefined) field("data.validation", data.validation, "string");
  const train = (raw.train ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(train)) {
    if (!TRAIN_KEYS.has(key)) {
      throw new TunebookError(
        `${file}: field "train.${key}" is unknown; use ${[...TRAIN_KEYS].join(", ")}`,
      );
    }
  }
  const answer = raw.answer ?? "label";
  if (answer !== "label" && answer !== "json" && answer !== "free") {
    throw new TunebookError(`${file}: field "answer" must be "label", "json" or "free"`);
  }
  const evalRaw = (raw.eval ?? {}) as Record<string, unknown>;

  return {
    goal: typeof raw.goal === "string" ? raw.goal : "",
    answer,
    requiredKeys: raw.requiredKeys as string[] | undefined,
    baseModel:
      typeof raw.baseModel === "string"
        ? raw.baseModel.startsWith(".") || raw.baseModel.startsWith("/")
          ? at(raw.baseModel)
          : raw.baseModel
        : at("../models/tunebook-base"),
    data: {
      train: at(data.train as string),
      validation: data.validation === undefined ? undefined : at(data.validation as string),
      validationFraction: data.validationFraction as number | undefined,
      encoding: data.encoding as "utf-8" | "latin1" | undefined,
      maxLength: data.maxLength as number | undefined,
      overLength: data.overLength as "drop" | "truncate" | "error" | undefined,
    },
    train: train as TrainOptions,
    eval: {
      before: (evalRaw.before as number | null | undefined) ?? null,
      after: (evalRaw.after as number | null | undefined) ?? null,
      baseline: evalRaw.baseline !== false,
    },
    out: typeof raw.out === "string" ? at(raw.out) : at("runs/run"),
  };
}
