// Data-side bias: how often identity terms of each group appear in prompts and answers, with a
// flag where one group of a category is mentioned far more often than another.
import type { AuditRecord, RecordRef } from "./records.js";
import { words } from "./records.js";

/** Category → group → terms (lower case, whole words). Short: pass your own to extend. */
export const IDENTITY_TERMS: Record<string, Record<string, string[]>> = {
  gender: {
    female: [
      "she",
      "her",
      "hers",
      "woman",
      "women",
      "girl",
      "girls",
      "mother",
      "daughter",
      "wife",
      "sister",
      "female",
      "lady",
      "ladies",
      "mom",
      "aunt",
      "grandmother",
    ],
    male: [
      "he",
      "him",
      "his",
      "man",
      "men",
      "boy",
      "boys",
      "father",
      "son",
      "husband",
      "brother",
      "male",
      "gentleman",
      "dad",
      "uncle",
      "grandfather",
    ],
  },
  religion: {
    christian: ["christian", "christians", "church", "catholic", "protestant"],
    muslim: ["muslim", "muslims", "islam", "islamic", "mosque"],
    jewish: ["jew", "jews", "jewish", "synagogue"],
    hindu: ["hindu", "hindus", "hinduism"],
    buddhist: ["buddhist", "buddhists", "buddhism"],
  },
  race: {
    black: ["black", "african"],
    white: ["white", "caucasian"],
    asian: ["asian", "chinese", "japanese", "korean", "indian"],
    hispanic: ["hispanic", "latino", "latina", "mexican"],
  },
  age: {
    // "old" and "young" are left out: "how old is my car" is not about people.
    young: ["teen", "teens", "teenager", "teenagers", "youth", "kid", "kids", "child", "children"],
    elderly: ["elderly", "senior", "seniors", "retired", "retiree", "pensioner", "pensioners"],
  },
};

export interface GroupCount {
  category: string;
  group: string;
  input: number;
  output: number;
}

export interface IdentityResult {
  counts: GroupCount[];
  /** Categories where the most mentioned group has over `ratio` times the least mentioned. */
  skewed: { category: string; most: string; least: string; ratio: number }[];
  /** Records that mention any identity term (first 100), for a look. */
  records: (RecordRef & { groups: string[] })[];
  charts: { byGroup: { x: string[]; input: number[]; output: number[] } };
  summary: string;
}

export function identityTerms(
  records: readonly AuditRecord[],
  opts: {
    terms?: Record<string, Record<string, string[]>>;
    ratio?: number;
    minMentions?: number;
  } = {},
): IdentityResult {
  const terms = opts.terms ?? IDENTITY_TERMS;
  const ratio = opts.ratio ?? 3;
  const minMentions = opts.minMentions ?? 20;
  const groupOf = new Map<string, string>();
  for (const [cat, groups] of Object.entries(terms)) {
    for (const [g, list] of Object.entries(groups))
      for (const t of list) groupOf.set(t, `${cat}/${g}`);
  }
  const tally = new Map<string, { input: number; output: number }>();
  for (const k of new Set(groupOf.values())) tally.set(k, { input: 0, output: 0 });
  const mentioned: IdentityResult["records"] = [];
  for (const r of records) {
    const seen = new Set<string>();
    for (const field of ["input", "output"] as const) {
      for (const w of words(r[field])) {
        const g = groupOf.get(w);
        if (g === undefined) continue;
        tally.get(g)![field]++;
        seen.add(g);
      }
    }
    if (seen.size > 0 && mentioned.length < 100)
      mentioned.push({ file: r.file, line: r.line, groups: [...seen] });
  }
  const counts: GroupCount[] = [...tally].map(([k, c]) => {
    const [category, group] = k.split("/");
    return { category, group, ...c };
  });
  const skewed: IdentityResult["skewed"] = [];
  for (const category of Object.keys(terms)) {
    const cs = counts
      .filter((c) => c.category === category)
      .map((c) => ({ group: c.group, n: c.input + c.output }))
      .sort((a, b) => b.n - a.n);
    const total = cs.reduce((s, c) => s + c.n, 0);
    const most = cs[0];
    const least = cs[cs.length - 1];
    if (total < minMentions || cs.length < 2) continue;
    const r = most.n / Math.max(1, least.n);
    if (r > ratio) skewed.push({ category, most: most.group, least: least.group, ratio: r });
  }
  const total = counts.reduce((s, c) => s + c.input + c.output, 0);
  const summary =
    total === 0
      ? `None of the ${records.length} records mentions an identity term from the list.`
      : `Identity terms appear ${total} times in ${records.length} records. ` +
        (skewed.length === 0
          ? "No category is strongly skewed towards one group."
          : `Skewed: ${skewed
              .map(
                (s) =>
                  `${s.category} (${s.most} mentioned ${s.ratio.toFixed(1)}× ` +
                  `as often as ${s.least})`,
              )
              .join("; ")}. A model fine-tuned on this may learn the imbalance.`);
  return {
    counts,
    skewed,
    records: mentioned,
    charts: {
      byGroup: {
        x: counts.map((c) => `${c.category}/${c.group}`),
        input: counts.map((c) => c.input),
        output: counts.map((c) => c.output),
      },
    },
    summary,
  };
}
