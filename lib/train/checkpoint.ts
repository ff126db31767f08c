// Checkpoints: trainable weights, optimizer moments and the loop's position, in one folder, so a
// resumed run continues the same loss curve.
import { readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { TunebookError } from "../errors.js";
import { writeFolderAtomically } from "../export/atomic.js";
import { readSafetensors, writeSafetensors, type NamedTensor } from "../model/safetensors.js";
import type { AdamW, AdamWState } from "./adamw.js";
import type { LoopState } from "./run.js";

const WEIGHTS = "trainable.safetensors";
const OPTIMIZER = "optimizer.safetensors";
const STATE = "trainer_state.json";

export interface CheckpointInfo {
  /** What was trained: "lora", "full" or "freeze", with its settings. */
  method: Record<string, unknown>;
  loop: LoopState;
}

/** Writes a checkpoint folder whole or not at all (a temporary folder renamed into place). */
export async function saveCheckpoint(
  dir: string,
  params: Map<string, tf.Variable>,
  optimizer: AdamW,
  info: CheckpointInfo,
): Promise<void> {
  await writeFolderAtomically(
    dir,
    async (tmp) => {
      const weights = new Map<string, NamedTensor>();
      for (const [name, v] of params) {
        weights.set(name, { shape: v.shape, values: v.dataSync() as Float32Array });
      }
      await writeSafetensors(path.join(tmp, WEIGHTS), weights, { format: "pt" });

      const state: AdamWState = optimizer.state();
      const moments = new Map<string, NamedTensor>();
      for (const [name, s] of state.moments) {
        moments.set(`${name}.exp_avg`, { shape: s.shape, values: s.m });
        moments.set(`${name}.exp_avg_sq`, { shape: s.shape, values: s.v });
      }
      await writeSafetensors(path.join(tmp, OPTIMIZER), moments);

      const json = { optimizer_step: state.step, ...info };
      await writeFile(path.join(tmp, STATE), JSON.stringify(json, null, 2) + "\n");
    },
    { overwrite: true, marker: "trainer_state.json" },
  );
}

export interface LoadedCheckpoint {
  info: CheckpointInfo;
  optimizerState: AdamWState;
}

/** Loads weights into `params` and returns the loop and optimizer state to resume with. */
export async function loadCheckpoint(
  dir: string,
  params: Map<string, tf.Variable>,
): Promise<LoadedCheckpoint> {
  let raw: string;
  try {
    raw = await readFile(path.join(dir, STATE), "utf8");
  } catch {
    throw new TunebookError(`${dir}: not a checkpoint folder (no ${STATE})`);
  }
  const parsed = JSON.parse(raw) as CheckpointInfo & { optimizer_step: number };

  const weights = await readSafetensors(path.join(dir, WEIGHTS));
  for (const [name, v] of params) {
    const saved = weights.get(name);
    if (saved === undefined) {
      throw new TunebookError(
        `${path.join(dir, WEIGHTS)}: tensor "${name}" is missing; ` +
          `the checkpoint was made with another training method or model`,
      );
    }
    if (saved.shape.join(",") !== v.shape.join(",")) {
      throw new TunebookError(
        `${path.join(dir, WEIGHTS)}: tensor "${name}" has shape [${saved.shape}] ` +
          `but the model has [${v.shape}]`,
      );
    }
    tf.tidy(() => v.assign(tf.tensor(saved.values, v.shape)));
  }

  const moments = await readSafetensors(path.join(dir, OPTIMIZER));
  const state: AdamWState = { step: parsed.optimizer_step, moments: new Map() };
  for (const [name, v] of params) {
    const m = moments.get(`${name}.exp_avg`);
    const s = moments.get(`${name}.exp_avg_sq`);
    if (m !== undefined && s !== undefined) {
      state.moments.set(name, { shape: v.shape, m: m.values, v: s.values });
    }
  }
  return { info: { method: parsed.method, loop: parsed.loop }, optimizerState: state };
}
