// `tunebook finetune`: the main job. Loads the base model and data, evaluates before training,
// fine-tunes, evaluates after, compares with the retrieval baseline and writes the run folder.
import { DEMO_CONFIG, readConfig } from "./config.js";
import { progressFor } from "./progress.js";
import { checkDestination } from "../export/atomic.js";
import { Session } from "../session.js";

export interface FinetuneOptions {
  config?: string;
  out?: string;
  encoding?: "utf-8" | "latin1";
}

export async function finetuneCommand(opts: FinetuneOptions): Promise<void> {
  const config = readConfig(opts.config ?? DEMO_CONFIG);
  const out = opts.out ?? config.out;
  // A bad destination must fail now, not after training.
  await checkDestination(out, { overwrite: true, marker: "run.json" });
  const progress = progressFor("train");
  const log = (line: string) => progress.log(line);
  const started = Date.now();

  const session = await Session.open({ baseModel: config.baseModel, log });
  session.setGoal({
    description: config.goal,
    answer: config.answer,
    requiredKeys: config.requiredKeys,
  });
  session.loadData({
    train: config.data.train,
    validation: config.data.validation,
    validationFraction: config.data.validationFraction,
    encoding: opts.encoding ?? config.data.encoding,
  });
  session.tokenize({ maxLength: config.data.maxLength, overLength: config.data.overLength });

  const before =
    config.eval.before === 0
      ? null
      : await session.evaluate({ label: "before", limit: config.eval.before ?? undefined });
  if (config.eval.baseline) session.evaluateBaseline();

  const run = session.train(config.train);
  run.on("step", (e) => progress.step(e));
  run.on("eval", (e) =>
    log(`train | epoch ${e.epoch} | step ${e.step} | train loss ${e.trainLoss.toFixed(4)} | ` +
      `val loss ${e.validationLoss.toFixed(4)}`),
  );
  // Ctrl-C stops at the next step boundary; the run folder is still written.
  const onSignal = () => {
    log("interrupted: stopping after this step");
    run.stop();
  };
  process.once("SIGINT", onSignal);
  try {
    await run;
  } finally {
    process.off("SIGINT", onSignal);
    progress.stop();
  }

  const after =
    config.eval.after === 0
      ? null
      : await session.evaluate({ label: "after", limit: config.eval.after ?? undefined });
  await session.export(out);

  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  const baseline = session.baseline;
  process.stdout.write(
    [
      "",
      `                      before    after   baseline (TF-IDF class centroid)`,
      row("accuracy", before?.accuracy, after?.accuracy, baseline?.accuracy),
      row("format consistency", before?.format_consistency, after?.format_consistency,
        baseline?.format_consistency),
      row("hallucination rate", before?.hallucination_rate, after?.hallucination_rate,
        baseline?.hallucination_rate),
      row("validation loss", before?.validation_loss, after?.validation_loss, undefined),
      "",
      `run folder ${out} | ${minutes} min`,
      "",
    ].join("\n"),
  );
}

type Cell = number | null | undefined;

function row(name: string, a: Cell, b: Cell, c: Cell) {
  const f = (x: number | null | undefined) => (x === null || x === undefined ? "-" : x.toFixed(3));
  return `${name.padEnd(20)} ${f(a).padStart(8)} ${f(b).padStart(8)} ${f(c).padStart(10)}`;
}
