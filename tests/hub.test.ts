// resolveModel: local paths, the huggingface_hub cache layout, offline errors, and downloads
// from a local HTTP server standing in for the Hub (no network in tests).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { TunebookError } from "../lib/errors.js";
import { resolveModel } from "../lib/model/hub.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
let tmp: string;
let server: Server;
let endpoint: string;
const requests: string[] = [];
// path after /owner/name/resolve/main/ → body; anything else is a 404.
const hubFiles: Record<string, Record<string, string>> = {
  "acme/single": {
    "config.json": '{"model_type": "llama"}',
    "model.safetensors": "weights",
    "tokenizer.json": "{}",
  },
  "acme/sharded": {
    "config.json": '{"model_type": "llama"}',
    "model.safetensors.index.json": JSON.stringify({
      weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
    }),
    "model-00001-of-00002.safetensors": "one",
    "model-00002-of-00002.safetensors": "two",
    "generation_config.json": "{}",
  },
  "acme/evil": {
    "config.json": "{}",
    "model.safetensors.index.json": JSON.stringify({ weight_map: { a: "../../escape" } }),
  },
};
const savedEnv = { ...process.env };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "tunebook-hub-"));
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const m = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(req.url ?? "");
    const body = m === null ? undefined : hubFiles[m[1]]?.[m[2]];
    if (body === undefined) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "x-repo-commit": COMMIT }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

afterEach(() => {
  process.env = { ...savedEnv };
  requests.length = 0;
});

describe("resolveModel", () => {
  it("uses an existing path as is", async () => {
    const dir = await mkdtemp(path.join(tmp, "local-"));

    expect(await resolveModel(dir, { offline: true })).toBe(dir);
  });

  it("finds a cached snapshot through refs/main, without the network", async () => {
    const cache = await mkdtemp(path.join(tmp, "cache-"));
    const repo = path.join(cache, "models--owner--name");
    await mkdir(path.join(repo, "snapshots", COMMIT), { recursive: true });
    await mkdir(path.join(repo, "refs"));
    await writeFile(path.join(repo, "refs", "main"), `${COMMIT}\n`);
    await writeFile(path.join(repo, "snapshots", COMMIT, "config.json"), "{}");
    await writeFile(path.join(repo, "snapshots", COMMIT, "model.safetensors"), "");
    process.env.HF_ENDPOINT = "http://127.0.0.1:9"; // nothing listens there

    const got = await resolveModel("owner/name", { cacheDir: cache });

    expect(got).toBe(path.join(repo, "snapshots", COMMIT));
  });

  it("reads the cache folder from TUNEBOOK_CACHE, then HF_HOME", async () => {
    const home = await mkdtemp(path.join(tmp, "hfhome-"));
    const repo = path.join(home, "hub", "models--o--n");
    await mkdir(path.join(repo, "snapshots", COMMIT), { recursive: true });
    await writeFile(path.join(repo, "snapshots", COMMIT, "config.json"), "{}");
    await writeFile(path.join(repo, "snapshots", COMMIT, "model.safetensors.index.json"), "{}");
    delete process.env.TUNEBOOK_CACHE;
    process.env.HF_HOME = home;

    const got = await resolveModel("o/n", { revision: COMMIT, offline: true });

    expect(got).toBe(path.join(repo, "snapshots", COMMIT));
  });

  it.each([
    { how: "HF_HUB_OFFLINE=1", env: { HF_HUB_OFFLINE: "1" }, offline: false },
    { how: "opts.offline", env: {}, offline: true },
    { how: "an unreachable Hub", env: { HF_ENDPOINT: "http://127.0.0.1:9" }, offline: false },
  ])("explains what to do when not cached and $how", async ({ env, offline }) => {
    const cache = await mkdtemp(path.join(tmp, "empty-"));
    Object.assign(process.env, env);

    const got = resolveModel("owner/missing", { cacheDir: cache, offline });

    await expect(got).rejects.toThrow(TunebookError);
    await expect(got).rejects.toThrow(
      new RegExp(
        `^model "owner/missing" is not in the cache \\(${cache}\\) and the Hub cannot be ` +
          "reached .*huggingface-cli download owner/missing.*or pass a local path$",
      ),
    );
  });

  it("downloads a single-file model into the cache layout", async () => {
    const cache = await mkdtemp(path.join(tmp, "dl-"));
    process.env.HF_ENDPOINT = endpoint;

    const got = await resolveModel("acme/single", { cacheDir: cache });

    const snap = path.join(cache, "models--acme--single", "snapshots", COMMIT);
    expect(got).toBe(snap);
    expect((await readdir(snap)).sort()).toEqual([
      "config.json", "model.safetensors", "tokenizer.json",
    ]);
    expect(await readFile(path.join(snap, "model.safetensors"), "utf8")).toBe("weights");
    const ref = path.join(cache, "models--acme--single", "refs", "main");
    expect(await readFile(ref, "utf8")).toBe(COMMIT);

    requests.length = 0;
    expect(await resolveModel("acme/single", { cacheDir: cache })).toBe(snap);
    expect(requests).toEqual([]);
  });

  it("downloads the index and every shard of a sharded model", async () => {
    const cache = await mkdtemp(path.join(tmp, "dl-"));
    process.env.HF_ENDPOINT = endpoint;

    const got = await resolveModel("acme/sharded", { cacheDir: cache });

    expect((await readdir(got)).sort()).toEqual([
      "config.json", "generation_config.json", "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors", "model.safetensors.index.json",
    ]);
    expect(await readFile(path.join(got, "model-00002-of-00002.safetensors"), "utf8")).toBe("two");
  });

  it.each([
    { id: "acme/nothing", error: /has no config\.json on the Hub/ },
    { id: "acme/evil", error: /shard name "\.\.\/\.\.\/escape" is not a file name/ },
    { id: "not a hub id", error: /neither an existing folder nor a Hub id/ },
  ])("rejects $id", async ({ id, error }) => {
    const cache = await mkdtemp(path.join(tmp, "dl-"));
    process.env.HF_ENDPOINT = endpoint;

    await expect(resolveModel(id, { cacheDir: cache })).rejects.toThrow(error);
  });
});
