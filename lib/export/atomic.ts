// Writes a whole folder or nothing: files go to a hidden sibling folder that is renamed into
// place at the end, so an export that fails half-way leaves no half-written folder behind.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import * as path from "node:path";

import { TunebookError } from "../errors.js";

export interface FolderWriteOptions {
  /** Replace an existing folder at the destination. Default false: refuse. */
  overwrite?: boolean;
  /**
   * With overwrite: a file that marks a folder this writer made before (run.json, say). An
   * existing folder is replaced only when it is empty or holds this file, so a mistyped path
   * never deletes someone's data.
   */
  marker?: string;
}

async function kindOf(p: string): Promise<"missing" | "folder" | "other"> {
  try {
    return (await stat(p)).isDirectory() ? "folder" : "other";
  } catch (err) {
    // ENOTDIR: a file stands somewhere on the path; the caller finds it walking up.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw err;
  }
}

/**
 * Checks that `dir` can be written (or replaced) under `opts`, before any work is done: callers
 * with long jobs call it first, so a bad destination fails before training, not after.
 */
export async function checkDestination(
  dir: string,
  opts: FolderWriteOptions = {},
): Promise<"missing" | "folder"> {
  if (dir.trim() === "") throw new TunebookError("the output folder is empty; name a folder");
  const target = path.resolve(dir);
  const cwd = process.cwd();
  if (target === cwd || cwd.startsWith(target + path.sep) || target === path.parse(target).root) {
    throw new TunebookError(
      `${dir}: is the current folder or one above it; name a new folder for the output`,
    );
  }
  const existing = await kindOf(target);
  if (existing === "other") {
    throw new TunebookError(`${dir}: a file is in the way; choose another folder name`);
  }
  if (existing === "folder") {
    if (!opts.overwrite) {
      throw new TunebookError(
        `${dir}: folder already exists; choose another folder or pass overwrite: true`,
      );
    }
    const entries = await readdir(target);
    if (entries.length > 0 && opts.marker !== undefined && !entries.includes(opts.marker)) {
      throw new TunebookError(
        `${dir}: folder exists and holds other files (no ${opts.marker}); ` +
          `choose another folder, tunebook only replaces folders it wrote`,
      );
    }
  }
  // The nearest existing ancestor must be a folder we may write into.
  let ancestor = path.dirname(target);
  while ((await kindOf(ancestor)) === "missing") ancestor = path.dirname(ancestor);
  if ((await kindOf(ancestor)) !== "folder") {
    throw new TunebookError(`${dir}: ${ancestor} is a file, not a folder; choose another path`);
  }
  try {
    await access(ancestor, constants.W_OK);
  } catch {
    throw new TunebookError(`${dir}: cannot write into ${ancestor} (permission denied)`);
  }
  return existing;
}

/** Runs `fill` on an empty temporary folder beside `dir`, then renames it to `dir`. */
export async function writeFolderAtomically(
  dir: string,
  fill: (tmp: string) => Promise<void>,
  opts: FolderWriteOptions = {},
): Promise<void> {
  const existing = await checkDestination(dir, opts);
  try {
    await swapIn(dir, fill, existing);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof TunebookError || code === undefined) throw err;
    throw new TunebookError(`${dir}: cannot write the folder (${code}); check the path`);
  }
}

async function swapIn(
  dir: string,
  fill: (tmp: string) => Promise<void>,
  existing: "missing" | "folder",
): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);

  // Fill the temporary sibling; on any failure remove it and rethrow.
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmp = path.join(parent, `.${base}.tmp-${tag}`);
  await mkdir(tmp);
  try {
    await fill(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }

  // Swap it in. An old folder is moved aside first and only deleted once the new one is there.
  if (existing === "folder") {
    const old = path.join(parent, `.${base}.old-${tag}`);
    await rename(target, old);
    try {
      await rename(tmp, target);
    } catch (err) {
      await rename(old, target);
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await rm(old, { recursive: true, force: true });
    return;
  }
  try {
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
