// Whole-folder writes never replace a folder they did not make, nor the working folder.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { checkDestination, writeFolderAtomically } from "../lib/export/atomic.js";

const root = mkdtempSync(path.join(tmpdir(), "tb-atomic-"));
const write = (dir: string) =>
  writeFolderAtomically(dir, (tmp) => writeFile(path.join(tmp, "run.json"), "{}"), {
    overwrite: true,
    marker: "run.json",
  });

describe("writeFolderAtomically", () => {
  it("replaces a folder it wrote before", async () => {
    const dir = path.join(root, "run");
    await write(dir);
    writeFileSync(path.join(dir, "extra.txt"), "old");

    await write(dir);

    expect(existsSync(path.join(dir, "run.json"))).toBe(true);
    expect(existsSync(path.join(dir, "extra.txt"))).toBe(false);
  });

  it("refuses a folder holding other files and leaves them as they were", async () => {
    const dir = path.join(root, "notes");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "notes.txt"), "keep me");

    await expect(write(dir)).rejects.toThrow(/holds other files \(no run.json\)/);
    expect(readFileSync(path.join(dir, "notes.txt"), "utf8")).toBe("keep me");
  });

  it.each([
    ["", /output folder is empty/],
    [".", /is the current folder or one above it/],
    ["..", /is the current folder or one above it/],
  ])("refuses %j", async (dir, message) => {
    await expect(checkDestination(dir, { overwrite: true })).rejects.toThrow(message);
  });

  it("refuses a path under a file before any work", async () => {
    const file = path.join(root, "a-file");
    writeFileSync(file, "x");

    await expect(checkDestination(path.join(file, "run"), {})).rejects.toThrow(/is a file, not a folder/);
  });
});
