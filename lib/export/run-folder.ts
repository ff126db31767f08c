// A run folder holds one fine-tuning run: run.json (settings and history), metrics.json,
// report.md and, for LoRA runs, adapter/ in PEFT format. Written whole or not at all.
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";

import { TunebookError } from "../errors.js";
import { writeFolderAtomically, type FolderWriteOptions } from "./atomic.js";
import { writePeftFiles, type PeftAdapter } from "./peft.js";
import { renderReport } from "./report.js";

export interface RunFolderParts {
  /** Settings, data counts, hyperparameters and history; fields report.md reads: RunSummary. */
  runJson: object;
  /** Scores by stage ("baseline", "before", "after"); report.md reads RunMetrics. */
  metrics: object;
  /** The trained adapter, written to adapter/ as a PEFT folder. */
  adapter?: PeftAdapter;
  /** report.md text; rendered from runJson and metrics when absent. */
  report?: string;
  /** Writes further files (merged weights, say) into the folder before it is renamed. */
  extra?: (tmp: string) => Promise<void>;
}

export interface RunFolder {
  runJson: Record<string, unknown>;
  metrics: Record<string, unknown>;
  /** report.md text, or null when the folder has none. */
  report: string | null;
  /** Path of adapter/ (read it with readPeftAdapter), or null when the run has no adapter. */
  adapterDir: string | null;
}

/** Writes the run folder `dir`; nothing appears there unless every file was written. */
export async function writeRunFolder(
  dir: string,
  parts: RunFolderParts,
  opts: FolderWriteOptions = {},
): Promise<void> {
  // Serialise first, so a value JSON cannot hold fails before the disk is touched.
  if (parts === null || typeof parts !== "object") {
    throw new TunebookError("writeRunFolder: pass { runJson, metrics } (adapter, report optional)");
  }
  const runText = toJson(parts.runJson, "run.json", "runJson");
  const metricsText = toJson(parts.metrics, "metrics.json", "metrics");
  const report = parts.report ?? renderReport(parts.runJson, parts.metrics);

  await writeFolderAtomically(
    dir,
    async (tmp) => {
      await writeFile(path.join(tmp, "run.json"), runText);
      await writeFile(path.join(tmp, "metrics.json"), metricsText);
      await writeFile(path.join(tmp, "report.md"), report);
      if (parts.adapter !== undefined) {
        await mkdir(path.join(tmp, "adapter"));
        await writePeftFiles(path.join(tmp, "adapter"), parts.adapter);
      }
      if (parts.extra !== undefined) await parts.extra(tmp);
    },
    opts,
  );
}

/** Reads run.json and metrics.json of a run folder; errors say which file is wrong. */
export async function readRunFolder(dir: string): Promise<RunFolder> {
  if (!(await isKind(dir, "folder"))) {
    throw new TunebookError(`${dir}: no such run folder; check the path`);
  }
  const runJson = await readJsonObject(dir, "run.json");
  const metrics = await readJsonObject(dir, "metrics.json");
  const reportPath = path.join(dir, "report.md");
  const report = (await isKind(reportPath, "file")) ? await readFile(reportPath, "utf8") : null;
  const adapterDir = path.join(dir, "adapter");
  return {
    runJson,
    metrics,
    report,
    adapterDir: (await isKind(adapterDir, "folder")) ? adapterDir : null,
  };
}

function toJson(value: unknown, file: string, field: string): string {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TunebookError(`writeRunFolder: ${field} must be an object (it becomes ${file})`);
  }
  try {
    return `${JSON.stringify(value, null, 2)}\n`;
  } catch (err) {
    throw new TunebookError(
      `writeRunFolder: ${field} cannot be saved as ${file} (${(err as Error).message}); ` +
        `keep it to plain numbers, strings, arrays and objects`,
    );
  }
}

async function readJsonObject(dir: string, name: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, name);
  if (!(await isKind(file, "file"))) {
    throw new TunebookError(`${dir}: ${name} is missing; this is not a complete run folder`);
  }
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new TunebookError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TunebookError(`${file}: must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

async function isKind(p: string, kind: "file" | "folder"): Promise<boolean> {
  try {
    const s = await stat(p);
    return kind === "file" ? s.isFile() : s.isDirectory();
  } catch {
    return false;
  }
}
