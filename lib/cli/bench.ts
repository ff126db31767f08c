// `tunebook bench [--case toy|base-lora|base-full] [--json] [--compare [--rounds N]]`: one JSON
// object per case; with --compare, tunebook and the PyTorch reference (bench/reference.py) take
// turns on the same case, N rounds each, so a machine whose speed drifts slows both alike.
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
  /** With compare: turns each side takes (default 3); the figures are their medians. */
  rounds?: number;
}

export async function benchCommand(opts: BenchCommandOptions): Promise<void> {
  const cases = (opts.case === undefined ? [...BENCH_CASES] : [opts.case]) as BenchCase[];
  if (opts.rounds !== undefined && !opts.compare) {
    throw new TunebookError("bench: --rounds counts the turns of --compare; add --compare");
  }
  for (const name of cases) {
    const run = (): Promise<BenchResult> =>
      runBench(name, { baseDir: DEFAULT_BASE_MODEL, steps: opts.steps });
    let r: BenchResult & Partial<Comparison> = await run();
    if (opts.compare) {
      const reference = (): ReferenceResult => runReference(name, opts.steps ?? 8);
      const ours: BenchResult[] = [r];
      const refs: ReferenceResult[] = [reference()];
      for (let i = 1; i < (opts.rounds ?? 3); i++) {
        ours.push(await run());
        refs.push(reference());
      }
      r = combineRounds(ours, refs);
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

/**
 * One result from alternating rounds: each side's median step (the mean of the middle two for an
 * even count), tunebook's median generation speed, the highest peak memory, and every round.
 */
export function combineRounds(
  ours: BenchResult[], refs: ReferenceResult[],
): BenchResult & Comparison {
  const first = ours[0];
  const step = median(ours.map((o) => o.step_ms));
  const refStep = median(refs.map((x) => x.step_ms));
  const tokens = first.batch * first.sequence;
  return {
    ...first,
    step_ms: round1(step),
    train_tokens_per_s: round1(tokens / (step / 1000)),
    generate_tokens_per_s: round1(median(ours.map((o) => o.generate_tokens_per_s))),
    peak_rss_mb: Math.max(...ours.map((o) => o.peak_rss_mb)),
    tensors_after: Math.max(...ours.map((o) => o.tensors_after)),
    pytorch_backend: refs[0].backend,
    pytorch_step_ms: round1(refStep),
    pytorch_train_tokens_per_s: round1(tokens / (refStep / 1000)),
    ratio_tokens_per_s: Math.round((refStep / step) * 1000) / 1000,
    rounds: ours.map((o, k) => ({
      step_ms: o.step_ms, generate_tokens_per_s: o.generate_tokens_per_s,
      pytorch_step_ms: refs[k].step_ms,
    })),
  };
}

/** Fields --compare adds: the reference's figures and tunebook ÷ PyTorch in tokens/s. */
interface Comparison {
  pytorch_backend: string;
  pytorch_step_ms: number;
  pytorch_train_tokens_per_s: number;
  ratio_tokens_per_s: number;
  /** Each round's figures, in the order they ran. */
  rounds: Array<{ step_ms: number; generate_tokens_per_s: number; pytorch_step_ms: number }>;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface ReferenceResult {
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
    maxBuffer: 64 << 20,
  });
  if (out.status !== 0) {
    const last = (out.stderr ?? "").trim().split("\n").at(-1);
    const why = last
      ? last
      : out.error !== undefined
        ? out.error.message
        : out.signal !== null
          ? `killed by ${out.signal}`
          : `exit code ${out.status}, no message`;
    const hint = /No module named 'torch'|ENOENT/.test(why)
      ? "; it needs Debian's python3-torch (apt-get install python3-torch)"
      : "";
    throw new TunebookError(`bench --compare: the PyTorch reference ${script} failed (${why})${hint}`);
  }
  return parseReference(out.stdout, script);
}

/** The reference's last output line, checked: a JSON object with a backend and a step time. */
export function parseReference(stdout: string, script: string): ReferenceResult {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    r = undefined;
  }
  const fields = r as Partial<Record<keyof ReferenceResult, unknown>> | null | undefined;
  const step = fields?.step_ms;
  if (typeof fields?.backend !== "string" || typeof step !== "number" || !(step > 0) ||
      !Number.isFinite(step)) {
    const shown = line.length > 80 ? `${line.slice(0, 80)}…` : line;
    throw new TunebookError(
      `bench --compare: ${script} did not print a result ({"backend", "step_ms" > 0, ...}) ` +
        `as its last line; it printed ${JSON.stringify(shown)}`,
    );
  }
  return fields as ReferenceResult;
}
