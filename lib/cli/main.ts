#!/usr/bin/env node
// The tunebook command line: finetune, eval, generate, pretrain and audit. User mistakes
// print one line and exit 1; anything else is a bug and keeps its stack trace.
import { Command, CommanderError } from "commander";
import { TunebookError } from "../errors.js";
import type { EvalOptions } from "./eval.js";

const program = new Command()
  .name("tunebook")
  .description("Fine-tune language models from TypeScript, cell by cell.")
  .showHelpAfterError()
  .exitOverride();

program
  .command("finetune")
  .description("fine-tune the base model on a data set and write a run folder (default: the demo)")
  .option("--config <file>", "fine-tuning config (JSON); default: the CLINC150 demo")
  .option("--out <dir>", "run folder to write (default: the config's, runs/demo for the demo)")
  .option("--encoding <name>", "text encoding of the data files: utf-8 or latin1", encoding)
  .action(async (opts: { config?: string; out?: string; encoding?: "utf-8" | "latin1" }) => {
    const { finetuneCommand } = await import("./finetune.js");
    await finetuneCommand(opts);
  });

program
  .command("eval")
  .description("evaluate a run folder on a JSONL file of {input, output} lines")
  .requiredOption("--run <dir>", "run folder written by `tunebook finetune`")
  .requiredOption("--data <file>", "JSONL file, one {\"input\", \"output\"} object a line")
  .option("--json", "print one JSON object", false)
  .option("--limit <n>", "evaluate only the first n records", integer("--limit", 1))
  .option("--encoding <name>", "text encoding of the data file: utf-8 or latin1", encoding)
  .action(async (opts: EvalOptions) => {
    const { evalCommand } = await import("./eval.js");
    await evalCommand(opts);
  });

program
  .command("generate")
  .description("generate a continuation from a model (and optionally a run's adapter)")
  .requiredOption("--model <dir>", "model folder (config.json + model.safetensors) or Hub id")
  .option("--run <dir>", "run folder whose adapter or weights to apply")
  .option("--prompt <text>", "prompt text, rendered with the chat template")
  .option("--ids <list>", "prompt as comma-separated token ids, e.g. 1,2,3")
  .option("--max-new-tokens <n>", "tokens to generate", integer("--max-new-tokens", 1), 32)
  .option("--greedy", "always take the most likely token", false)
  .option("--temperature <t>", "sampling temperature when not greedy", positive("--temperature"), 1)
  .option("--seed <n>", "sampling seed", integer("--seed", 0), 0)
  .option("--raw", "use the prompt text as is, without the chat template", false)
  .option("--json", "print one JSON object", false)
  .action(async (opts) => {
    const { generateCommand } = await import("./generate.js");
    await generateCommand(opts);
  });

program
  .command("pretrain")
  .description("pretrain the shipped base model from the corpus (reproducible)")
  .option("--corpus <dir>", "folder of .txt files", "data/pretrain")
  .option("--out <dir>", "model folder to write", "models/tunebook-base")
  .option("--steps <n>", "optimizer steps", integer("--steps", 1))
  .action(async (opts: { corpus: string; out: string; steps?: number }) => {
    const { pretrainCommand } = await import("./pretrain.js");
    await pretrainCommand(opts);
  });

program
  .command("bench")
  .description("measure training and generation speed, memory and tensor counts")
  .option("--case <name>", "toy, base-lora or base-full (default: all three)")
  .option("--steps <n>", "measured training steps after warm-up", integer("--steps", 1))
  .option("--json", "print one JSON object per case", false)
  .option("--compare", "also run the PyTorch reference (bench/reference.py) on each case", false)
  .option("--rounds <n>", "with --compare: turns each side takes, reported as medians (default 3)",
    integer("--rounds", 1, 100))
  .action(async (opts: {
    case?: string; json: boolean; steps?: number; compare: boolean; rounds?: number;
  }) => {
    const { benchCommand } = await import("./bench.js");
    await benchCommand(opts);
  });

program
  .command("audit")
  .description("audit a data file: quality and PII; contamination with --against; bias and " +
    "memorisation with --run")
  .requiredOption("--data <file>", "data file (.jsonl, .json or .csv)")
  .option("--against <file>", "another data set to check for overlap (e.g. validation)")
  .option("--run <dir>", "run folder: adds bias (CrowS-Pairs) and memorisation")
  .option("--ngram <n>", "n-gram length for contamination", integer("--ngram", 1), 13)
  .option("--crows <file>", "CrowS-Pairs CSV (default data/audit/crows_pairs.csv)")
  .option("--limit <n>", "examples per side for memorisation", integer("--limit", 1), 200)
  .option("--json", "print one JSON object", false)
  .action(async (opts) => {
    const { auditCommand } = await import("./audit.js");
    await auditCommand(opts);
  });

program
  .command("tui")
  .description("watch and steer a fine-tune in a terminal dashboard (default: the demo)")
  .option("--config <file>", "fine-tuning config (JSON); default: the CLINC150 demo")
  .option("--no-start", "load the model and data, then wait for n before training")
  .action(async (opts: { config?: string; start: boolean }) => {
    const { tuiCommand } = await import("../../tui/main.js");
    await tuiCommand(opts);
  });

const kernel = program
  .command("kernel")
  .description("the Jupyter kernel: install or uninstall the kernel spec \"TypeScript (tunebook)\"");
for (const action of ["install", "uninstall"] as const) {
  kernel
    .command(action)
    .description(`${action} the kernel spec "tunebook" (default: for this user)`)
    .option("--user", "this user's Jupyter data folder (the default)")
    .option("--prefix <dir>", "PREFIX/share/jupyter/kernels, e.g. a virtual environment")
    .action(async (opts: { user?: boolean; prefix?: string }) => {
      const { kernelCommand } = await import("../../kernel/install.js");
      kernelCommand(action, opts);
    });
}

/** A parser for a whole-number option that names the option when the value is wrong. */
function integer(option: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  return (value) => {
    const n = Number(value);
    // Digits only: no exponents, signs, hex or fractions.
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new TunebookError(`${option}: expected a whole number ${range}, got "${value}"`);
    }
    return n;
  };
}

function positive(option: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
      throw new TunebookError(`${option}: expected a number >= 0, got "${value}"`);
    }
    return n;
  };
}

function encoding(value: string): "utf-8" | "latin1" {
  if (value !== "utf-8" && value !== "latin1") {
    throw new TunebookError(`--encoding: expected utf-8 or latin1, got "${value}"`);
  }
  return value;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode);
  }
  if (err instanceof TunebookError) {
    process.stderr.write(`tunebook: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
