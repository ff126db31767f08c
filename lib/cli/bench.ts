// `tunebook bench [--case toy|base-lora|base-full] [--json]`: one JSON object per case.
import { BENCH_CASES, type BenchCase, runBench } from "../bench/bench.js";
import { DEFAULT_BASE_MODEL } from "../session.js";

export async function benchCommand(opts: { case?: string; json: boolean; steps?: number }) {
  const cases = (opts.case === undefined ? [...BENCH_CASES] : [opts.case]) as BenchCase[];
  for (const name of cases) {
    const r = await runBench(name, { baseDir: DEFAULT_BASE_MODEL, steps: opts.steps });
    if (opts.json) {
      process.stdout.write(JSON.stringify(r) + "\n");
    } else {
      process.stdout.write(
        `${r.case.padEnd(10)} ${r.backend} | step ${r.step_ms} ms | ` +
          `${r.train_tokens_per_s} train tok/s | ${r.generate_tokens_per_s} generated tok/s | ` +
          `peak RSS ${r.peak_rss_mb} MB | tensors ${r.tensors_before} → ${r.tensors_after}\n`,
      );
    }
  }
}
