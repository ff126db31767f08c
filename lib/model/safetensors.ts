// Reads and writes .safetensors files (Hugging Face's tensor container) as Float32 tensors.
// Every header is checked in full before a byte of tensor data is read.
import { open, rename, rm } from "node:fs/promises";
import * as path from "node:path";

import { TunebookError } from "../errors.js";

/** A tensor as read from or written to disk: row-major Float32 values. */
export interface NamedTensor {
  shape: number[];
  values: Float32Array;
}

/** A tensor read from a file, with the dtype it was stored in (values are always Float32). */
export interface StoredTensor extends NamedTensor {
  dtype: string;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const ITEM_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
const KNOWN_DTYPES = new Set([
  "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
  "F8_E4M3", "F8_E5M2",
]);

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Reads every tensor of a safetensors file, converting F16 and BF16 to Float32. */
export async function readSafetensors(file: string): Promise<Map<string, StoredTensor>> {
  const where = path.basename(file);
  const fh = await openForReading(file);
  try {
    const size = (await fh.stat()).size;
    const { entries, dataStart } = await readHeader(fh, size, where);
    const out = new Map<string, StoredTensor>();
    for (const e of entries) {
      const bytes = new Uint8Array(e.end - e.begin);
      await readExactly(fh, bytes, dataStart + e.begin, where);
      out.set(e.name, { dtype: e.dtype, shape: e.shape, values: toFloat32(bytes, e.dtype) });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** Reads only the header: names, dtypes and shapes, plus `__metadata__`. */
export async function readSafetensorsHeader(file: string): Promise<{
  tensors: Map<string, { dtype: string; shape: number[] }>;
  metadata: Record<string, string>;
}> {
  const where = path.basename(file);
  const fh = await openForReading(file);
  try {
    const size = (await fh.stat()).size;
    const { entries, metadata } = await readHeader(fh, size, where);
    const tensors = new Map(entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }]));
    return { tensors, metadata };
  } finally {
    await fh.close();
  }
}

/**
 * Writes Float32 tensors, names sorted, header padded with spaces to a multiple of 8.
 * The file appears whole or not at all: data goes to a temporary file that is then renamed.
 */
export async function writeSafetensors(
  file: string,
  tensors: Record<string, NamedTensor> | Map<string, NamedTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = map.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.values.length) {
      throw new TunebookError(
        `${path.basename(file)}: tensor "${name}": shape [${t.shape.join(", ")}] needs ${n} ` +
          `values but ${t.values.length} were given`,
      );
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, "utf8");
  json += " ".repeat((8 - (jsonBytes % 8)) % 8);
  const headerBuf = Buffer.from(json, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBuf.length));

  await writeAtomically(file, async (fh) => {
    await fh.write(prefix);
    await fh.write(headerBuf);
    for (const name of names) {
      const v = map.get(name)!.values;
      await fh.write(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  });
}

/** Runs `fill` on a temporary file beside `file`, then renames it into place. */
export async function writeAtomically(
  file: string,
  fill: (fh: import("node:fs/promises").FileHandle) => Promise<void>,
): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`,
  );
  const fh = await open(tmp, "w");
  try {
    await fill(fh);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
}

async function openForReading(file: string) {
  try {
    return await open(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TunebookError(`${file}: cannot open (${code ?? String(err)}); check the path`);
  }
}

async function readExactly(
  fh: import("node:fs/promises").FileHandle,
  buf: Uint8Array,
  position: number,
  where: string,
): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new TunebookError(`${where}: file ended early; it is truncated`);
    done += bytesRead;
  }
}

async function readHeader(
  fh: import("node:fs/promises").FileHandle,
  size: number,
  where: string,
): Promise<{ entries: Entry[]; metadata: Record<string, string>; dataStart: number }> {
  const fail = (msg: string): never => {
    throw new TunebookError(`${where}: ${msg}; the file is not a valid safetensors file`);
  };
  if (size < 8) fail(`only ${size} bytes, too short for the 8-byte header length`);
  const prefix = new Uint8Array(8);
  await readExactly(fh, prefix, 0, where);
  const n = new DataView(prefix.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} is over the 100 MB limit`);
  if (n > BigInt(size - 8)) fail(`header length ${n} runs past the end of the ${size}-byte file`);
  const headerLen = Number(n);
  const headerBytes = new Uint8Array(headerLen);
  await readExactly(fh, headerBytes, 8, where);

  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (err) {
    fail(`header is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    fail("header is not a JSON object");
  }

  const dataStart = 8 + headerLen;
  const entries = parseEntries(parsed as Record<string, unknown>, where);
  checkLayout(entries, size - dataStart, where);
  const metadata = parseMetadata((parsed as Record<string, unknown>).__metadata__, where);
  return { entries, metadata, dataStart };
}

function parseMetadata(raw: unknown, where: string): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TunebookError(`${where}: "__metadata__" must be an object of strings`);
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") {
      throw new TunebookError(`${where}: "__metadata__" key "${k}" is not a string`);
    }
  }
  return raw as Record<string, string>;
}

function parseEntries(header: Record<string, unknown>, where: string): Entry[] {
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const fail = (msg: string): never => {
      throw new TunebookError(`${where}: tensor "${name}": ${msg}`);
    };
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      fail("entry is not an object");
    }
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;

    if (typeof dtype !== "string") fail(`dtype is missing`);
    const dt = dtype as string;
    if (!(dt in ITEM_SIZE)) {
      const kind = KNOWN_DTYPES.has(dt) ? "is not supported" : "is unknown";
      fail(`dtype ${dt} ${kind}; only F32, F16 and BF16 tensors can be loaded`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const dims = shape as number[];
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as number[];
    const need = dims.reduce((a, b) => a * b, 1) * ITEM_SIZE[dt];
    if (end - begin !== need) {
      fail(
        `data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ` +
          `[${dims.join(", ")}] of ${dt} needs ${need}`,
      );
    }
    entries.push({ name, dtype: dt, shape: dims, begin, end });
  }
  return entries;
}

/** Tensors must tile the data buffer exactly: sorted by offset, no overlap, no gap, no tail. */
function checkLayout(entries: Entry[], bufferSize: number, where: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    const fail = (msg: string): never => {
      throw new TunebookError(`${where}: tensor "${e.name}": ${msg}`);
    };
    if (e.end > bufferSize) {
      fail(`data_offsets [${e.begin}, ${e.end}] run past the ${bufferSize}-byte data buffer`);
    }
    if (e.begin < pos) fail(`data_offsets [${e.begin}, ${e.end}] overlap the previous tensor`);
    if (e.begin > pos) {
      fail(`data_offsets [${e.begin}, ${e.end}] leave a gap of ${e.begin - pos} bytes before it`);
    }
    pos = e.end;
  }
  if (pos !== bufferSize) {
    throw new TunebookError(
      `${where}: ${bufferSize - pos} bytes after the last tensor belong to no tensor; ` +
        `the file is not a valid safetensors file`,
    );
  }
}

function toFloat32(bytes: Uint8Array, dtype: string): Float32Array {
  if (dtype === "F32") return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const n = bytes.length / 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float32Array(n);
  if (dtype === "BF16") {
    // BF16 is the top half of an F32: shift it into place.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
