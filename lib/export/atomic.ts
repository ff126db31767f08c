// Writes a whole folder or nothing: files go to a hidden sibling folder that is renamed into
// place at the end, so an export that fails half-way leaves no half-written folder behind.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import * as path from "node:path";

import { TunebookError } from "../errors.js";

export interface FolderWriteOptions {
  /** Replace an existing folder at the destination. Default false: refuse. */
  overwrite?: boolean;
}

async function kindOf(p: string): Promise<"missing" | "folder" | "other"> {
  try {
    return (await stat(p)).isDirectory() ? "folder" : "other";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw err;
  }
}

/** Runs `fill` on an empty temporary folder beside `dir`, then renames it to `dir`. */
export async function writeFolderAtomically(
  dir: string,
  fill: (tmp: string) => Promise<void>,
  opts: FolderWriteOptions = {},
): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);

  // Check the destination before doing any work.
  const existing = await kindOf(target);
  if (existing === "other") {
    throw new TunebookError(`${dir}: a file is in the way; choose another folder name`);
  }
  if (existing === "folder" && !opts.overwrite) {
    throw new TunebookError(
      `${dir}: folder already exists; choose another folder or pass overwrite: true`,
    );
  }

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
