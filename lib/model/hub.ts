// Turns a model name into a local folder: a path as is, or a Hugging Face Hub id found in (or
// downloaded into) the huggingface_hub cache layout: models--owner--name/snapshots/<commit>/.
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { TunebookError } from "../errors.js";

export interface ResolveOptions {
  /** Hub cache folder (default $TUNEBOOK_CACHE, else $HF_HUB_CACHE, else $HF_HOME/hub, else
   *  ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Never touch the network (also when HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** Branch, tag or commit (default "main"). */
  revision?: string;
}

const OPTIONAL_FILES = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"];
const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The default Hub cache folder, as huggingface_hub picks it (plus $TUNEBOOK_CACHE first). */
export function defaultCacheDir(): string {
  const env = process.env;
  if (env.TUNEBOOK_CACHE) return env.TUNEBOOK_CACHE;
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return path.join(env.HF_HOME, "hub");
  return path.join(os.homedir(), ".cache", "huggingface", "hub");
}

/** A local folder holding the model: the path itself, a cached snapshot, or a fresh download. */
export async function resolveModel(nameOrPath: string, opts: ResolveOptions = {}): Promise<string> {
  if (await exists(nameOrPath)) return nameOrPath;
  if (!HUB_ID.test(nameOrPath) || nameOrPath.includes("..")) {
    throw new TunebookError(
      `model "${nameOrPath}" is neither an existing folder nor a Hub id like "owner/name"; ` +
        `check the path`,
    );
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const revision = opts.revision ?? "main";
  const repoDir = path.join(cacheDir, `models--${nameOrPath.replace("/", "--")}`);

  const cached = await findSnapshot(repoDir, revision);
  if (cached !== null) return cached;

  const offline = opts.offline === true || isTrue(process.env.HF_HUB_OFFLINE);
  const unreachable = (why: string): TunebookError =>
    new TunebookError(
      `model "${nameOrPath}" is not in the cache (${cacheDir}) and the Hub cannot be reached ` +
        `(${why}): download it on a machine with internet ` +
        `(e.g. \`huggingface-cli download ${nameOrPath}\`) and copy the folder, ` +
        `or pass a local path`,
    );
  if (offline) throw unreachable("offline mode");
  return download(nameOrPath, revision, repoDir, unreachable);
}

/** snapshots/<commit> for a commit hash, or the commit refs/<revision> names; null if absent. */
async function findSnapshot(repoDir: string, revision: string): Promise<string | null> {
  let commit = revision;
  if (!/^[0-9a-f]{40}$/.test(revision)) {
    try {
      commit = (await readFile(path.join(repoDir, "refs", revision), "utf8")).trim();
    } catch {
      return null;
    }
  }
  const dir = path.join(repoDir, "snapshots", commit);
  // config.json alone may be left from an interrupted download: the weights must be there too.
  const complete =
    (await exists(path.join(dir, "config.json"))) &&
    ((await exists(path.join(dir, "model.safetensors"))) ||
      (await exists(path.join(dir, "model.safetensors.index.json"))));
  return complete ? dir : null;
}

async function download(
  id: string,
  revision: string,
  repoDir: string,
  unreachable: (why: string) => TunebookError,
): Promise<string> {
  const endpoint = (process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
  const url = (file: string): string =>
    `${endpoint}/${id}/resolve/${encodeURIComponent(revision)}/${file}`;
  const headers: Record<string, string> = {};
  if (process.env.HF_TOKEN) headers.authorization = `Bearer ${process.env.HF_TOKEN}`;

  const get = async (file: string): Promise<Response | null> => {
    let res: Response;
    try {
      res = await fetch(url(file), { headers, redirect: "follow" });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw unreachable(cause ?? (err as Error).message);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new TunebookError(
        `model "${id}": the Hub refused ${file} (HTTP ${res.status}); the model may be gated or ` +
          `private: accept its licence on huggingface.co and set HF_TOKEN`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unreachable(`HTTP ${res.status} for ${file}`);
    }
    return res;
  };

  // config.json first: it tells us the revision's commit, which names the snapshot folder.
  const configRes = await get("config.json");
  if (configRes === null) {
    throw new TunebookError(
      `model "${id}" (revision ${revision}) has no config.json on the Hub; check the id`,
    );
  }
  const commitHeader = configRes.headers.get("x-repo-commit");
  const commit = commitHeader !== null && /^[0-9a-f]{40}$/.test(commitHeader)
    ? commitHeader
    : revision;
  const snapshot = path.join(repoDir, "snapshots", commit);
  await mkdir(snapshot, { recursive: true });
  await save(configRes, path.join(snapshot, "config.json"));

  const indexRes = await get("model.safetensors.index.json");
  if (indexRes !== null) {
    const indexPath = path.join(snapshot, "model.safetensors.index.json");
    await save(indexRes, indexPath);
    for (const shard of await shardNames(indexPath)) {
      const res = await get(shard);
      if (res === null) {
        throw new TunebookError(`model "${id}": shard ${shard} is missing on the Hub`);
      }
      await save(res, path.join(snapshot, shard));
    }
  } else {
    const res = await get("model.safetensors");
    if (res === null) {
      throw new TunebookError(
        `model "${id}" has no model.safetensors on the Hub; only safetensors weights can be loaded`,
      );
    }
    await save(res, path.join(snapshot, "model.safetensors"));
  }
  for (const file of OPTIONAL_FILES) {
    const res = await get(file);
    if (res !== null) await save(res, path.join(snapshot, file));
  }

  // The ref is written last: a snapshot is only found once every file is in place.
  if (commit !== revision) {
    await mkdir(path.join(repoDir, "refs"), { recursive: true });
    await writeFile(path.join(repoDir, "refs", revision), commit);
  }
  return snapshot;
}

/** Streams a response body to a temporary file, then renames it into place. */
async function save(res: Response, file: string): Promise<void> {
  const tmp = `${file}.${process.pid}.incomplete`;
  try {
    if (res.body === null) throw new Error("empty body");
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream);
    await pipeline(body, createWriteStream(tmp));
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new TunebookError(
      `download of ${path.basename(file)} failed (${(err as Error).message}); run again to retry`,
    );
  }
}

async function shardNames(indexPath: string): Promise<string[]> {
  let wm: unknown;
  try {
    wm = (JSON.parse(await readFile(indexPath, "utf8")) as { weight_map?: unknown }).weight_map;
  } catch (err) {
    throw new TunebookError(`${indexPath}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof wm !== "object" || wm === null) {
    throw new TunebookError(`${indexPath}: field "weight_map" is missing or not an object`);
  }
  const shards = [...new Set(Object.values(wm))];
  for (const s of shards) {
    if (typeof s !== "string" || s !== path.basename(s) || s.startsWith(".")) {
      throw new TunebookError(`${indexPath}: shard name ${JSON.stringify(s)} is not a file name`);
    }
  }
  return (shards as string[]).sort();
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "yes", "on"].includes(v.trim().toLowerCase());
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
