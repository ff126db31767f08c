// Near-duplicate search: MinHash signatures over character shingles, banded locality-sensitive
// hashing for candidate pairs, and exact Jaccard similarity to confirm each candidate.

export interface NearOptions {
  /** Pairs at or above this Jaccard similarity of shingle sets count as near (default 0.8). */
  threshold?: number;
  /** Shingle length in characters (default 5). */
  shingle?: number;
  /** Bands × rows = signature length; 32 × 4 finds pairs at 0.7 with probability > 0.999. */
  bands?: number;
  rows?: number;
  seed?: number;
}

export interface NearPair {
  a: number;
  b: number;
  similarity: number;
}

/** Distinct character shingles of a (normalised) text, each as a 32-bit hash. */
export function shingles(text: string, k = 5): Set<number> {
  const out = new Set<number>();
  const padded = ` ${text} `;
  if (padded.length <= k) {
    out.add(fnv1a(padded));
    return out;
  }
  for (let i = 0; i + k <= padded.length; i++) out.add(fnv1a(padded.slice(i, i + k)));
  return out;
}

export function jaccard(a: Set<number>, b: Set<number>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const x of small) if (large.has(x)) shared++;
  return shared / (a.size + b.size - shared);
}

/** MinHash signature: for each of n seeded hash functions, the least hash over the set. */
export function signature(set: Set<number>, n: number, seed = 0): Uint32Array {
  const sig = new Uint32Array(n).fill(0xffffffff);
  for (const x of set) {
    for (let i = 0; i < n; i++) {
      const h = fmix32(x ^ Math.imul(i + 1 + seed, 0x9e3779b1)) >>> 0;
      if (h < sig[i]) sig[i] = h;
    }
  }
  return sig;
}

/**
 * Pairs of texts whose shingle sets have Jaccard similarity >= threshold. Texts should be
 * normalised and distinct (collapse exact duplicates first, or every copy pairs with every
 * other).
 */
export function nearPairs(texts: readonly string[], opts: NearOptions = {}): NearPair[] {
  const threshold = opts.threshold ?? 0.8;
  const bands = opts.bands ?? 32;
  const rows = opts.rows ?? 4;
  const sets = texts.map((t) => shingles(t, opts.shingle ?? 5));
  const sigs = sets.map((s) => signature(s, bands * rows, opts.seed ?? 0));

  // Texts that agree on all rows of some band become candidates.
  const seen = new Set<number>();
  const pairs: NearPair[] = [];
  for (let band = 0; band < bands; band++) {
    const buckets = new Map<string, number[]>();
    sigs.forEach((sig, i) => {
      const key = sig.subarray(band * rows, (band + 1) * rows).join(",");
      const bucket = buckets.get(key);
      if (bucket === undefined) buckets.set(key, [i]);
      else bucket.push(i);
    });
    for (const bucket of buckets.values()) {
      for (let x = 0; x < bucket.length; x++) {
        for (let y = x + 1; y < bucket.length; y++) {
          const a = bucket[x];
          const b = bucket[y];
          const key = a * texts.length + b;
          if (seen.has(key)) continue;
          seen.add(key);
          const similarity = jaccard(sets[a], sets[b]);
          if (similarity >= threshold) pairs.push({ a, b, similarity });
        }
      }
    }
  }
  return pairs;
}

/** Groups of indices joined by the given pairs (connected components of size >= 2). */
export function clusters(n: number, pairs: readonly { a: number; b: number }[]): number[][] {
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (const { a, b } of pairs) parent[find(a)] = find(b);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const root = find(i);
    const g = groups.get(root);
    if (g === undefined) groups.set(root, [i]);
    else g.push(i);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/** 32-bit FNV-1a over UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
