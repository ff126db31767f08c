// Fine-tuning data files → Examples: JSONL, JSON (array, or {"train"|"data": [...]}) and CSV,
// strictly decoded; errors name file:line and say what to change.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { TunebookError } from "../errors.js";
import { toExample, type Example } from "./records.js";
import { decodeText, type TextEncoding } from "./utf8.js";

export type { Example, Message, Role } from "./records.js";

export type RecordFormat = "jsonl" | "json" | "csv";

export interface LoadOptions {
  /** Text encoding of the file (default "utf-8", strictly checked). */
  encoding?: TextEncoding;
  /** File format; by default taken from the extension (.jsonl, .json, .csv). */
  format?: RecordFormat;
}

/** Read the records of a data file as Examples, in file order. */
export function loadRecords(path: string, opts: LoadOptions = {}): Example[] {
  const format = opts.format ?? formatOf(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TunebookError(
      `${path}: ${code === "ENOENT" ? "file not found" : `cannot read (${code})`}; check the path`,
    );
  }
  const text = decodeText(bytes, path, opts.encoding);

  const read = { jsonl: fromJsonl, json: fromJson, csv: fromCsv }[format];
  const examples = read(text, path);
  if (examples.length === 0) throw new TunebookError(`${path}: no records`);
  return examples;
}

function formatOf(path: string): RecordFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".jsonl" || ext === ".json" || ext === ".csv") return ext.slice(1) as RecordFormat;
  throw new TunebookError(
    `${path}: unknown extension "${ext}"; use .jsonl, .json or .csv, or pass format`,
  );
}

function fromJsonl(text: string, file: string): Example[] {
  const examples: Example[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new TunebookError(`${where}: not valid JSON (${oneLine((e as Error).message)})`);
    }
    examples.push(toExample(value, { file, line: i + 1 }, where));
  });
  return examples;
}

function fromJson(text: string, file: string): Example[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const line = errorLine(text, msg);
    throw new TunebookError(`${file}${line ? `:${line}` : ""}: not valid JSON (${oneLine(msg)})`);
  }

  let records: unknown;
  let key: string | undefined;
  if (Array.isArray(value)) {
    records = value;
  } else if (typeof value === "object" && value !== null) {
    key = ["train", "data"].find((k) => Array.isArray((value as Record<string, unknown>)[k]));
    records = key ? (value as Record<string, unknown>)[key] : undefined;
  }
  if (!Array.isArray(records)) {
    throw new TunebookError(
      `${file}: expected an array of records, or an object with a "train" or "data" array`,
    );
  }

  const lines = elementLines(text, key);
  return records.map((rec, i) => {
    const line = lines[i] ?? 1;
    return toExample(rec, { file, line }, `${file}:${line}: record ${i}`);
  });
}

function fromCsv(text: string, file: string): Example[] {
  let rows: { record: Record<string, string>; raw: string; info: { lines: number } }[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, info: true, raw: true });
  } catch (e) {
    const err = e as Error & { lines?: number };
    const msg = err.message.replace(/ on line \d+| at line \d+/, "");
    throw new TunebookError(`${file}${err.lines ? `:${err.lines}` : ""}: not valid CSV (${msg})`);
  }
  return rows.map(({ record, raw, info }) => {
    // info.lines is where the record ends; quoted fields may span several lines.
    const line = info.lines - (raw.replace(/\r?\n$/, "").match(/\n/g)?.length ?? 0);
    return toExample(record, { file, line }, `${file}:${line}`);
  });
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Line of each element of the records array: the top-level array, or the array under `key` in
 * the top-level object. One pass over the text tracking nesting and strings.
 */
function elementLines(text: string, key: string | undefined): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  let lastKey = "";
  let recordsDepth = -1; // depth inside the records array once it is open
  let expectElement = false;

  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\n") line++;
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') {
        inString = false;
        if (depth === 1) lastKey = text.slice(stringStart + 1, i);
      }
      continue;
    }
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") continue;
    if (expectElement && depth === recordsDepth && ch !== "]") {
      lines.push(line);
      expectElement = false;
    }
    if (ch === '"') {
      inString = true;
      stringStart = i;
    } else if (ch === "[" || ch === "{") {
      depth++;
      const atRecords = key === undefined ? depth === 1 : depth === 2 && lastKey === key;
      const isRecords = ch === "[" && recordsDepth < 0 && atRecords;
      if (isRecords) {
        recordsDepth = depth;
        expectElement = true;
      }
    } else if (ch === "]" || ch === "}") {
      if (depth === recordsDepth) return lines;
      depth--;
    } else if (ch === "," && depth === recordsDepth) {
      expectElement = true;
    }
  }
  return lines;
}

/** JSON.parse messages may quote the text around the error, newlines included. */
function oneLine(msg: string): string {
  return msg.replace(/\s+/g, " ");
}

/** The line of a JSON.parse error: from its position, or by finding the text it quotes. */
function errorLine(text: string, msg: string): number | undefined {
  const pos = /position (\d+)/.exec(msg);
  if (pos) return lineAt(text, Number(pos[1]));
  const quoted = /"(?:\.\.\.)?([\s\S]*?)(?:\.\.\.)?" is not valid JSON/.exec(msg);
  const at = quoted ? text.indexOf(quoted[1]) : -1;
  return at === -1 ? undefined : lineAt(text, at + quoted![1].trimEnd().length - 1);
}
