// Pretraining corpus: every .txt file of a folder, Project Gutenberg licence header and footer
// removed (they would teach the base model legal boilerplate), other files kept as they are.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TunebookError } from "../errors.js";

export interface CorpusDocument {
  /** File name, e.g. "gutenberg_pg84.txt". */
  name: string;
  text: string;
}

const START = /^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG EBOOK.*\*\*\*[ \t]*\r?$/m;
const END = /^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG EBOOK.*\*\*\*[ \t]*\r?$/m;

/** Read the .txt files of `dir` in name order. */
export function readPretrainCorpus(dir: string): CorpusDocument[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".txt")).sort();
  } catch (e) {
    throw new TunebookError(`${dir}: cannot read the corpus folder (${(e as Error).message})`);
  }
  if (names.length === 0) {
    throw new TunebookError(`${dir}: no .txt files; put the pretraining text there`);
  }
  return names.map((name) => ({
    name,
    text: stripGutenberg(readFileSync(join(dir, name), "utf-8").replace(/^\uFEFF/, "")),
  }));
}

/** The text between the "*** START OF ..." and "*** END OF ..." lines, trimmed; else `text`. */
export function stripGutenberg(text: string): string {
  const start = START.exec(text);
  if (!start) return text;
  const bodyStart = start.index + start[0].length;
  const end = END.exec(text.slice(bodyStart));
  const body = end ? text.slice(bodyStart, bodyStart + end.index) : text.slice(bodyStart);
  return body.trim() + "\n";
}
