// `tunebook pretrain`: rebuilds models/tunebook-base from the pretraining corpus.
import { pretrain, PRETRAIN_DEFAULTS } from "../train/pretrain.js";
import { progressFor } from "./progress.js";

export async function pretrainCommand(opts: { corpus: string; out: string; steps?: number }) {
  const steps = opts.steps ?? PRETRAIN_DEFAULTS.steps;
  const progress = progressFor("pretrain");
  try {
    await pretrain({
      ...PRETRAIN_DEFAULTS,
      steps,
      corpusDir: opts.corpus,
      outDir: opts.out,
      log: (line) => progress.log(line),
      onStep: (e) => progress.step(e),
    });
  } finally {
    progress.stop();
  }
}
