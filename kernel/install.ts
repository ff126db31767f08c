// `tunebook kernel install | uninstall`: writes or removes the Jupyter kernel spec "tunebook"
// (kernel.json), for this user (default) or under a prefix such as a virtual environment.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { TunebookError } from "../lib/errors.js";

export const KERNEL_NAME = "tunebook";
export const DISPLAY_NAME = "TypeScript (tunebook)";

export interface KernelSpecOptions {
  /** Install for this user (the default). */
  user?: boolean;
  /** Install under PREFIX/share/jupyter/kernels instead. */
  prefix?: string;
}

/** The folder that holds the kernel spec, e.g. ~/.local/share/jupyter/kernels/tunebook. */
export function kernelSpecDir(opts: KernelSpecOptions = {}): string {
  if (opts.user === true && opts.prefix !== undefined) {
    throw new TunebookError("kernel: use either --user or --prefix <dir>, not both");
  }
  const base =
    opts.prefix !== undefined
      ? path.join(path.resolve(opts.prefix), "share", "jupyter")
      : userDataDir();
  return path.join(base, "kernels", KERNEL_NAME);
}

/** kernel.json: Jupyter starts the kernel with this Node on the built kernel. */
export function kernelSpec(mainJs = builtKernel()): Record<string, unknown> {
  return {
    argv: [process.execPath, mainJs, "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "signal",
    metadata: { debugger: false },
  };
}

export function installKernel(opts: KernelSpecOptions = {}): string {
  const main = builtKernel();
  if (!existsSync(main)) {
    throw new TunebookError(`kernel: ${main} is missing; build it first with "npm run build"`);
  }
  const dir = kernelSpecDir(opts);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(kernelSpec(main), null, 2) + "\n");
  return dir;
}

/** Removes the spec; returns the folder removed, or null if there was none. */
export function uninstallKernel(opts: KernelSpecOptions = {}): string | null {
  const dir = kernelSpecDir(opts);
  if (!existsSync(dir)) return null;
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

/** The CLI's `tunebook kernel install|uninstall`. */
export function kernelCommand(action: "install" | "uninstall", opts: KernelSpecOptions): void {
  if (action === "install") {
    const dir = installKernel(opts);
    process.stdout.write(`kernel | installed "${DISPLAY_NAME}" in ${dir}\n`);
    return;
  }
  const dir = uninstallKernel(opts);
  process.stdout.write(
    dir === null
      ? `kernel | not installed in ${kernelSpecDir(opts)}\n`
      : `kernel | removed ${dir}\n`,
  );
}

/** Jupyter's per-user data folder, as jupyter_core computes it. */
function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return path.resolve(process.env.JUPYTER_DATA_DIR);
  if (process.platform === "darwin") return path.join(homedir(), "Library", "Jupyter");
  if (process.platform === "win32") {
    return path.join(process.env.APPDATA ?? path.join(homedir(), "AppData", "Roaming"), "jupyter");
  }
  const xdg = process.env.XDG_DATA_HOME || path.join(homedir(), ".local", "share");
  return path.join(xdg, "jupyter");
}

/** dist/kernel/main.js, whether this file runs built (dist/kernel) or from source (kernel/). */
function builtKernel(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root =
    path.basename(path.dirname(here)) === "dist"
      ? path.resolve(here, "../..")
      : path.resolve(here, "..");
  return path.join(root, "dist", "kernel", "main.js");
}
