// Driving the built tunebook kernel through Debian's Jupyter tools in tests: what is missing (a
// reason to skip), a kernel spec in a temporary prefix, and Python scripts run with it.
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { installKernel } from "../../kernel/install.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const PYTHON = "/usr/bin/python3";
export const BASE = process.env.TUNEBOOK_TEST_BASE ?? path.join(ROOT, "models/tunebook-base");
export const SHIPPED_BASE = path.join(ROOT, "models/tunebook-base");

/** Why these tests cannot run here (a Debian package or the base model is missing), if so. */
export function missing(opts: {
  python?: string[];
  base?: string;
  executable?: string;
}): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing; apt-get install -y python3`;
  for (const module of opts.python ?? []) {
    if (spawnSync(PYTHON, ["-c", `import ${module}`]).status !== 0) {
      const pkg = DEBIAN_PACKAGE[module] ?? module;
      return `${PYTHON} cannot import ${module}; apt-get install -y ${pkg}`;
    }
  }
  if (opts.executable !== undefined && !existsSync(opts.executable)) {
    return `${opts.executable} is missing; apt-get install -y ${path.basename(opts.executable)}`;
  }
  if (opts.base !== undefined && !existsSync(path.join(opts.base, "config.json"))) {
    const hint = opts.base === SHIPPED_BASE ? "" : " or set TUNEBOOK_TEST_BASE to a model folder";
    return `no base model in ${opts.base}; build it with \`tunebook pretrain\`${hint}`;
  }
  return undefined;
}

const DEBIAN_PACKAGE: Record<string, string> = {
  jupyter_kernel_test: "python3-jupyter-kernel-test",
  jupyter_client: "python3-jupyter-client",
  nbclient: "python3-nbclient",
  notebook: "jupyter-notebook",
};

/**
 * Installs the kernel spec in a fresh prefix and returns the environment under which Jupyter
 * finds it (and keeps its runtime files in the same temporary folder).
 */
export function kernelEnv(): NodeJS.ProcessEnv {
  if (!existsSync(path.join(ROOT, "dist/kernel/main.js"))) {
    throw new Error("dist/kernel/main.js is missing: build the project first (npm run build)");
  }
  const prefix = mkdtempSync(path.join(tmpdir(), "tb-jupyter-"));
  installKernel({ prefix });
  return {
    ...process.env,
    JUPYTER_PATH: path.join(prefix, "share/jupyter"),
    JUPYTER_RUNTIME_DIR: path.join(prefix, "runtime"),
    JUPYTER_CONFIG_DIR: path.join(prefix, "config"),
    JUPYTER_DATA_DIR: path.join(prefix, "data"),
    PYTHONWARNINGS: "ignore",
  };
}

/** Runs a Python script; resolves with its exit code and output, whatever the code. */
export function python(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = ROOT,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { env, cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}
