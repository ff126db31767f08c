// `tunebook bench [--case toy|base-lora|base-full] [--json] [--compare]`: one JSON object per
// case; with --compare, the PyTorch reference (bench/reference.py) runs the same case after it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { BENCH_CASES, type BenchCase, type BenchResult, runBench } from "../bench/bench.js";
import { TunebookError } from "../errors.js";
import { DEFAULT_BASE_MODEL } from "../session.js";

export interface BenchCommandOptions {
  case?: string;
  json: boolean;
  steps?: number;
  compare: boolean;
}

export async function benchCommand(opts: BenchCommandOptions): Promise<void> {
  const cases = (opts.case === undefined ? [...BENCH_CASES] : [opts.case]) as BenchCase[];
  for (const name of cases) {
    const r: BenchResult & Partial<Comparison> = await runBench(name, {
      baseDir: DEFAULT_BASE_MODEL,
      steps: opts.steps,
    });
    if (opts.compare) {
      const ref = runReference(name, opts.steps ?? 8);
      r.pytorch_backend = ref.backend;
      r.pytorch_step_ms = ref.step_ms;
      r.pytorch_train_tokens_per_s = ref.train_tokens_per_s;
      r.ratio_tokens_per_s = Math.round((r.train_tokens_per_s / ref.train_tokens_per_s) * 1000) / 1000;
    }
    if (opts.json) {
      process.stdout.write(JSON.stringify(r) + "\n");
    } else {
      const compared = opts.compare
        ? ` | PyTorch ${r.pytorch_step_ms} ms, ratio ${r.ratio_tokens_per_s}`
        : "";
      process.stdout.write(
        `${r.case.padEnd(10)} ${r.backend} | step ${r.step_ms} ms | ` +
          `${r.train_tokens_per_s} train tok/s | ${r.generate_tokens_per_s} generated tok/s | ` +
          `peak RSS ${r.peak_rss_mb} MB | tensor memory ${r.peak_tensor_mb} MB ` +
          `(estimated ${r.estimated_mb}) | tensors ${r.tensors_before} → ${r.tensors_after}` +
          `${compared}\n`,
      );
    }
  }
}

/** Fields --compare adds: the reference's figures and tunebook ÷ PyTorch in tokens/s. */
interface Comparison {
  pytorch_backend: string;
  pytorch_step_ms: number;
  pytorch_train_tokens_per_s: number;
  ratio_tokens_per_s: number;
}

interface ReferenceResult {
  backend: string;
  step_ms: number;
  train_tokens_per_s: number;
}

function runReference(name: BenchCase, steps: number): ReferenceResult {
  const script = path.join(path.dirname(path.dirname(DEFAULT_BASE_MODEL)), "bench/reference.py");
  // Debian's interpreter, where python3-torch installs; a PATH python3 may lack torch.
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const out = spawnSync(python, [script, "--case", name, "--steps", String(steps)], {
    encoding: "utf8",
  });
  if (out.status !== 0) {
    const why = (out.stderr ?? "").trim().split("\n").at(-1) ?? String(out.error);
    throw new TunebookError(
      `bench --compare: the PyTorch reference failed (${why}); it needs Debian's python3-torch ` +
        `(apt-get install python3-torch)`,
    );
  }
  return JSON.parse(out.stdout.trim().split("\n").at(-1)!) as ReferenceResult;
}
