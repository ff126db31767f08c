// `tunebook eval --run DIR --data FILE.jsonl --json`: scores a run folder's model on new data.
import { describeBackend, initBackend } from "../engine/backend.js";
import { TunebookError } from "../errors.js";
import { loadRecords } from "../data/load.js";
import { openRun } from "../export/run-export.js";
import { type AnswerSpec, scorePredictions } from "../eval/metrics.js";
import { answerPrompts } from "../eval/answer.js";

export interface EvalOptions {
  run: string;
  data: string;
  json: boolean;
  limit?: number;
  encoding?: "utf-8" | "latin1";
}

export async function evalCommand(opts: EvalOptions) {
  await initBackend();
  const examples = loadRecords(opts.data, { encoding: opts.encoding }).slice(0, opts.limit);
  const { model, tokenizer, runJson } = await openRun(opts.run);
  const spec = answerSpecOf(runJson, opts.run);
  if (examples.length === 0) throw new TunebookError(`${opts.data}: no records to evaluate`);
  if (spec.kind === "label") {
    const known = new Set(spec.labels);
    for (const e of examples) {
      const answer = e.messages[e.messages.length - 1].content.trim();
      if (!known.has(answer)) {
        throw new TunebookError(
          `${e.source.file}:${e.source.line}: output "${answer}" is not one of the run's ` +
            `${known.size} labels (run.json "labels"); fix the record or evaluate another run`,
        );
      }
    }
  }
  // Label answers never need more tokens than the longest label (plus EOS and a spare).
  const maxNewTokens =
    spec.kind === "label"
      ? Math.max(...spec.labels.map((l) => tokenizer.encode(l).length)) + 2
      : undefined;
  const answers = answerPrompts(model, tokenizer, examples, { maxNewTokens });
  const scores = scorePredictions(
    examples.map((e, i) => ({
      prediction: answers[i],
      reference: e.messages[e.messages.length - 1].content,
      input: e.messages.slice(0, -1).map((m) => m.content).join("\n"),
    })),
    spec,
  );
  if (opts.json) {
    process.stdout.write(JSON.stringify(scores) + "\n");
    return;
  }
  process.stdout.write(
    `${describeBackend()} | ${opts.run} on ${opts.data}\n` +
      `n ${scores.n} | accuracy ${scores.accuracy.toFixed(3)} | format consistency ` +
      `${fmt(scores.format_consistency)} | hallucination rate ${fmt(scores.hallucination_rate)}\n`,
  );
}

function answerSpecOf(runJson: Record<string, unknown>, dir: string): AnswerSpec {
  const goal = runJson.goal as { answer?: string; requiredKeys?: string[] } | null;
  const answer = goal?.answer ?? "label";
  if (answer === "label") {
    const labels = runJson.labels;
    if (!Array.isArray(labels) || labels.length === 0) {
      throw new TunebookError(`${dir}/run.json: field "labels" is missing; re-export the run`);
    }
    return { kind: "label", labels: labels as string[] };
  }
  if (answer === "json") return { kind: "json", requiredKeys: goal?.requiredKeys };
  return { kind: "free" };
}

function fmt(x: number | null): string {
  return x === null ? "n/a" : x.toFixed(3);
}
