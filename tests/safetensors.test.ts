// Round trips, half-precision decoding, every kind of corrupt header, and sharded model folders.
import { copyFile, mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import { TunebookError } from "../lib/errors.js";
import { readSafetensors, writeSafetensors } from "../lib/model/safetensors.js";
import { loadModelFolder } from "../lib/model/weights.js";

const STORIES = new URL("fixtures/stories260K-hf", import.meta.url).pathname;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "tunebook-st-"));
});

/** A safetensors file from a header (object or raw text) and data bytes. */
async function makeFile(
  name: string,
  header: unknown,
  data: Uint8Array,
  headerLength?: bigint,
): Promise<string> {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  const file = path.join(dir, name);
  await writeFile(file, Buffer.concat([prefix, json, data]));
  return file;
}

describe("writeSafetensors / readSafetensors", () => {
  it("round-trips names, shapes, values and pads the header to 8 bytes", async () => {
    const file = path.join(dir, "round.safetensors");
    const tensors = {
      "b.weight": { shape: [2, 3], values: Float32Array.from([1, -2, 3.5, 4, 5, 1e-8]) },
      "a.bias": { shape: [3], values: Float32Array.from([0.25, -0.5, 7]) },
      empty: { shape: [0, 4], values: new Float32Array(0) },
    };

    await writeSafetensors(file, tensors, { format: "pt" });
    const back = await readSafetensors(file);

    const raw = await readFile(file);
    const n = Number(raw.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(raw.subarray(8, 8 + n).toString("utf8"));
    expect(Object.keys(header)).toEqual(["__metadata__", "a.bias", "b.weight", "empty"]);
    expect(header["a.bias"].data_offsets).toEqual([0, 12]);
    expect([...back.keys()].sort()).toEqual(["a.bias", "b.weight", "empty"]);
    expect(back.get("b.weight")!.shape).toEqual([2, 3]);
    expect(Array.from(back.get("b.weight")!.values)).toEqual([1, -2, 3.5, 4, 5, Math.fround(1e-8)]);
    expect(back.get("a.bias")!.dtype).toBe("F32");
    expect(back.get("empty")!.shape).toEqual([0, 4]);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("rejects values that do not fill the shape", async () => {
    const file = path.join(dir, "bad-write.safetensors");
    const write = writeSafetensors(file, { x: { shape: [2, 2], values: new Float32Array(3) } });

    await expect(write).rejects.toThrow(/tensor "x": shape \[2, 2\] needs 4 values but 3/);
  });

  it("decodes F16 (normal, subnormal, infinity) and BF16", async () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0x0000]);
    const bf16 = new Uint16Array([0x3f80, 0xc040, 0x4049]);
    const data = new Uint8Array([
      ...new Uint8Array(f16.buffer), ...new Uint8Array(bf16.buffer),
    ]);
    const file = await makeFile("half.safetensors", {
      h: { dtype: "F16", shape: [2, 3], data_offsets: [0, 12] },
      b: { dtype: "BF16", shape: [3], data_offsets: [12, 18] },
    }, data);

    const t = await readSafetensors(file);

    const h = Array.from(t.get("h")!.values);
    expect(h.slice(0, 2)).toEqual([1, -2]);
    expect(h[2]).toBeCloseTo(0.33325, 5);
    expect(h[3]).toBe(2 ** -24);
    expect(h[4]).toBe(Infinity);
    expect(h[5]).toBe(0);
    expect(Array.from(t.get("b")!.values)).toEqual([1, -3, 3.140625]);
    expect(t.get("b")!.dtype).toBe("BF16");
  });
});

const f32 = (n: number): Uint8Array => new Uint8Array(n * 4);
const corrupt: {
  name: string;
  header: unknown;
  data: Uint8Array;
  headerLength?: bigint;
  truncateTo?: number;
  error: RegExp;
}[] = [
  {
    name: "truncated inside the header length",
    header: {}, data: f32(0), truncateTo: 5, error: /too short/,
  },
  {
    name: "header length past the end",
    header: { x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, data: f32(1),
    headerLength: 10_000n, error: /header length 10000 runs past the end/,
  },
  {
    name: "header length over 100 MB",
    header: {}, data: f32(0), headerLength: 2n ** 40n, error: /100 MB/,
  },
  { name: "bad JSON", header: "{\"x\": ", data: f32(0), error: /not UTF-8 JSON/ },
  {
    name: "JSON that is not an object", header: "[1, 2]", data: f32(0),
    error: /not a JSON object/,
  },
  {
    name: "offsets out of range",
    header: { x: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, data: f32(2),
    error: /tensor "x": data_offsets \[0, 16\] run past the 8-byte data buffer/,
  },
  {
    name: "overlapping tensors",
    header: {
      x: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      y: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    },
    data: f32(3), error: /tensor "y": data_offsets \[4, 12\] overlap/,
  },
  {
    name: "a gap between tensors",
    header: {
      x: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      y: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
    },
    data: f32(3), error: /tensor "y": .* gap of 4 bytes/,
  },
  {
    name: "bytes after the last tensor",
    header: { x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, data: f32(2),
    error: /4 bytes after the last tensor/,
  },
  {
    name: "size not matching the shape",
    header: { x: { dtype: "F32", shape: [4, 4], data_offsets: [0, 12] } }, data: f32(3),
    error: /tensor "x": data_offsets \[0, 12\] hold 12 bytes but shape \[4, 4\] of F32 needs 64/,
  },
  {
    name: "an unsupported dtype",
    header: { x: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, data: f32(2),
    error: /tensor "x": dtype I64 is not supported/,
  },
  {
    name: "an unknown dtype",
    header: { x: { dtype: "Q4", shape: [1], data_offsets: [0, 4] } }, data: f32(1),
    error: /tensor "x": dtype Q4 is unknown/,
  },
  {
    name: "a negative dimension",
    header: { x: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, data: f32(1),
    error: /tensor "x": shape \[-1\] is not a list of non-negative integers/,
  },
  {
    name: "non-string metadata",
    header: { __metadata__: { format: 1 } }, data: f32(0),
    error: /"__metadata__" key "format" is not a string/,
  },
];

describe("readSafetensors rejects corrupt files", () => {
  it.each(corrupt)("$name", async (c) => {
    let file = await makeFile("corrupt.safetensors", c.header, c.data, c.headerLength);
    if (c.truncateTo !== undefined) {
      const bytes = await readFile(file);
      file = path.join(dir, "corrupt-cut.safetensors");
      await writeFile(file, bytes.subarray(0, c.truncateTo));
    }

    const read = readSafetensors(file);

    await expect(read).rejects.toThrow(TunebookError);
    const where = "^corrupt(-cut)?\\.safetensors: .*";
    await expect(read).rejects.toThrow(new RegExp(where + c.error.source));
  });
});

describe("loadModelFolder", () => {
  it("loads a sharded folder the same as the single file", async () => {
    const single = await loadModelFolder(STORIES);
    const sharded = path.join(dir, "sharded");
    const names = [...single.tensors.keys()].sort();
    const half = Math.floor(names.length / 2);
    const parts = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    await mkdir(sharded, { recursive: true });
    for (const [i, part] of parts.entries()) {
      const shard = `model-0000${i + 1}-of-00002.safetensors`;
      const tensors = new Map(part.map((n) => [n, single.tensors.get(n)!]));
      await writeSafetensors(path.join(sharded, shard), tensors);
      for (const n of part) weightMap[n] = shard;
    }
    const index = JSON.stringify({ weight_map: weightMap });
    await writeFile(path.join(sharded, "model.safetensors.index.json"), index);
    await copyFile(path.join(STORIES, "config.json"), path.join(sharded, "config.json"));

    const loaded = await loadModelFolder(sharded);

    expect(loaded.config.numLayers).toBe(5);
    expect([...loaded.tensors.keys()].sort()).toEqual(names);
    const w = "model.layers.4.mlp.down_proj.weight";
    const values = (m: typeof single): number[] => Array.from(m.tensors.get(w)!.values);
    expect(values(loaded)).toEqual(values(single));
  });

  it("names the missing tensor and its file", async () => {
    const single = await loadModelFolder(STORIES);
    const broken = path.join(dir, "broken");
    await mkdir(broken, { recursive: true });
    single.tensors.delete("model.layers.2.self_attn.k_proj.weight");
    await writeSafetensors(path.join(broken, "model.safetensors"), single.tensors);
    await copyFile(path.join(STORIES, "config.json"), path.join(broken, "config.json"));

    const load = loadModelFolder(broken);

    await expect(load).rejects.toThrow(
      /model\.safetensors: tensor "model\.layers\.2\.self_attn\.k_proj\.weight" is missing/,
    );
  });
});
