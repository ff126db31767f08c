// Detectors for personal data and secrets: a pattern finds candidates, a check (Luhn, mod-97,
// address syntax, entropy, the words around it) keeps only the real ones.
import { isIPv4, isIPv6 } from "node:net";

export type PiiType =
  "EMAIL" | "PHONE" | "CARD" | "IBAN" | "NATIONAL_ID" | "IP" | "API_KEY" | "PRIVATE_KEY" | "SECRET";

export const PII_TYPES: readonly PiiType[] = [
  "EMAIL",
  "PHONE",
  "CARD",
  "IBAN",
  "NATIONAL_ID",
  "IP",
  "API_KEY",
  "PRIVATE_KEY",
  "SECRET",
];

export interface Detector {
  type: PiiType;
  /** What the detector looks for, for reports. */
  name: string;
  pattern: RegExp;
  /** Index of the capture group holding the value (0: the whole match). */
  group?: number;
  /** Keeps a candidate: its value, the text and where the value starts. */
  accept?: (value: string, text: string, start: number) => boolean;
}

/** Words before a number that make it an order, invoice or part number, not personal data. */
const NOT_PERSONAL = new RegExp(
  [
    String.raw`\b(?:order|invoice|ref(?:erence)?|tracking|ticket|case|part|`,
    String.raw`sku|isbn|model|serial|item|po|batch|lot|build|version|v)\b\W{`,
    String.raw`0,3}(?:no\.?|number|#|id)?\W{0,3}$`,
  ].join(""),
  "i",
);

function before(text: string, start: number, n = 24): string {
  return text.slice(Math.max(0, start - n), start);
}

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes of the card networks, so a Luhn-valid order number is not taken for a card. */
function cardIssuer(d: string): boolean {
  const p2 = Number(d.slice(0, 2));
  const p4 = Number(d.slice(0, 4));
  if (d[0] === "4") return d.length === 13 || d.length === 16 || d.length === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return d.length === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return d.length === 15; // American Express
  if (d.startsWith("6011") || p2 === 65 || (p4 >= 6440 && p4 <= 6499)) return d.length >= 16;
  if (p4 >= 3528 && p4 <= 3589) return d.length >= 16; // JCB
  if (p2 === 36 || p2 === 38 || (p4 >= 3000 && p4 <= 3059)) return d.length >= 14; // Diners
  if (p2 === 62) return d.length >= 16; // UnionPay
  return false;
}

/** IBAN length by country (ISO 13616 registry, the commonly seen countries). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AE: 23,
  AT: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BR: 29,
  CH: 21,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  EE: 20,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IS: 26,
  IT: 27,
  KW: 30,
  KZ: 20,
  LB: 28,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MT: 31,
  MU: 30,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  TN: 24,
  TR: 26,
  UA: 29,
};

export function ibanValid(raw: string): boolean {
  const iban = raw.replace(/\s+/g, "").toUpperCase();
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const v = ch >= "A" ? ch.charCodeAt(0) - 55 : ch.charCodeAt(0) - 48;
    rest = v > 9 ? (rest * 100 + v) % 97 : (rest * 10 + v) % 97;
  }
  return rest === 1;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / s.length) * Math.log2(c / s.length);
  return h;
}

const FILE_EXTENSIONS = new Set([
  "png",
  "jpg",
  "jpeg",
  "gif",
  "svg",
  "webp",
  "bmp",
  "ico",
  "js",
  "ts",
  "css",
  "json",
  "txt",
  "pdf",
  "zip",
  "gz",
  "py",
  "md",
  "html",
  "xml",
  "yaml",
  "yml",
]);

/** North American numbering: area code and exchange do not start with 0 or 1. */
function nanpValid(digits: string): boolean {
  const d = digits.length === 11 && digits[0] === "1" ? digits.slice(1) : digits;
  return d.length === 10 && d[0] >= "2" && d[3] >= "2";
}

const mixedClasses = (s: string) =>
  [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(s)).length;

export const DETECTORS: Detector[] = [
  {
    type: "PRIVATE_KEY",
    name: "PEM / OpenSSH private key block",
    pattern: new RegExp(
      [
        String.raw`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?`,
        String.raw`(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)`,
      ].join(""),
      "g",
    ),
  },
  {
    type: "API_KEY",
    name:
      "known token formats (AWS, GitHub, GitLab, Slack, Stripe, Google, OpenAI, " +
      "Anthropic, Hugging Face, npm, SendGrid, JWT)",
    pattern: new RegExp(
      [
        String.raw`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`,
        String.raw`\bgh[pousr]_[A-Za-z0-9]{36,255}\b`,
        String.raw`\bgithub_pat_[A-Za-z0-9_]{60,}\b`,
        String.raw`\bglpat-[A-Za-z0-9_-]{20,}`,
        String.raw`\bxox[abposr]-[A-Za-z0-9-]{10,}`,
        String.raw`https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+`,
        String.raw`\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b`,
        String.raw`\bAIza[0-9A-Za-z_-]{35}`,
        String.raw`\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}`,
        String.raw`\bhf_[A-Za-z]{30,}\b`,
        String.raw`\bnpm_[A-Za-z0-9]{36}\b`,
        String.raw`\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}`,
        String.raw`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
      ].join("|"),
      "g",
    ),
    // A token has digits or mixed case; a run of one letter kind is a word like "sk-learn-...".
    accept: (v) => /\d/.test(v) || (/[a-z]/.test(v) && /[A-Z]/.test(v)),
  },
  {
    type: "SECRET",
    name: "high-entropy value after a key-like name (password, secret, token, api key)",
    pattern: new RegExp(
      [
        String.raw`(?:\b|(?<=_))(?:api[_-]?key|apikey|secret(?:[_-]?key)?|clien`,
        String.raw`t[_-]?secret|access[_-]?(?:key|token)|auth[_-]?token|token|p`,
        String.raw`assw(?:or)?d|pwd|private[_-]?key|credentials?)\b["']?\s*(?:[`,
        String.raw`:=]|is)\s*["']?([^\s"',;]{8,})`,
      ].join(""),
      "gi",
    ),
    group: 1,
    accept: (v) => {
      if (/^(?:https?:|\$\{|<|\[|\{\{|process\.env|os\.environ)/i.test(v)) return false;
      if (/^[a-z]+$/i.test(v) || /^[a-z_.-]+$/.test(v)) return false; // words, placeholders
      return (entropy(v) >= 3 && mixedClasses(v) >= 2) || (v.length >= 24 && entropy(v) >= 3.5);
    },
  },
  {
    type: "EMAIL",
    name: "e-mail address",
    pattern: new RegExp(
      [
        String.raw`(?<![\w.+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+`,
        String.raw`-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-`,
        String.raw`Za-z]{2,24}\b`,
      ].join(""),
      "g",
    ),
    accept: (v, text, start) => {
      const tld = v.slice(v.lastIndexOf(".") + 1).toLowerCase();
      if (FILE_EXTENSIONS.has(tld)) return false;
      if (v.includes("..")) return false;
      // git@host:org/repo is an SSH remote, not a mailbox.
      return text[start + v.length] !== ":";
    },
  },
  {
    type: "IBAN",
    name: "IBAN (length by country, mod-97 check)",
    pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g,
    accept: (v) => ibanValid(v),
  },
  {
    type: "CARD",
    name: "payment card number (issuer prefix, Luhn check)",
    pattern: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g,
    accept: (v, text, start) => {
      const d = v.replace(/\D/g, "");
      if (NOT_PERSONAL.test(before(text, start))) return false;
      // Separators, when present, split the number into groups of four (Amex: 4-6-5).
      const groups = v.split(/[ -]/).map((g) => g.length);
      if (
        groups.length > 1 &&
        !groups.slice(0, -1).every((n) => n === 4) &&
        groups.join(",") !== "4,6,5" &&
        groups.join(",") !== "4,6,4"
      )
        return false;
      return d.length >= 13 && d.length <= 19 && cardIssuer(d) && luhn(d);
    },
  },
  {
    type: "NATIONAL_ID",
    name: 'US SSN (dashed, or after "SSN"), UK National Insurance number',
    pattern: new RegExp(
      [
        String.raw`\b(?:\d{3}-\d{2}-\d{4}|(?<=\b(?:SSN|social security(?: numbe`,
        String.raw`r)?|SS#)\W{0,4})\d{3} ?\d{2} ?\d{4}|[A-CEGHJ-PR-TW-Z][A-CEGH`,
        String.raw`J-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b`,
      ].join(""),
      "gi",
    ),
    accept: (v, text, start) => {
      if (/^[A-Z]/i.test(v)) return !/^(?:BG|GB|NK|KN|TN|NT|ZZ)/i.test(v) && v === v.toUpperCase();
      const d = v.replace(/\D/g, "");
      if (d.startsWith("000") || d.startsWith("666") || d[0] === "9") return false;
      if (d.slice(3, 5) === "00" || d.slice(5) === "0000") return false;
      return !NOT_PERSONAL.test(before(text, start));
    },
  },
  {
    type: "PHONE",
    name: "phone number (international +CC, North American, European trunk-0 forms)",
    pattern: new RegExp(
      [
        String.raw`(?<![\w+])(?:\+|00(?=[1-9]))\d{1,3}(?:[ .-]?\(?\d{1,4}\)?)` +
          String.raw`(?:[ .-]?\d{2,4}){2,5}(?![\w-])`,
        String.raw`(?<![\w(-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])`,
        String.raw`(?<![\w-])0\d{1,4}(?:[ ]\d{2,4}){2,4}(?![\w-])`,
        String.raw`(?<![\w-])0\d(?:[ .]\d{2}){4}(?![\w-])`,
      ].join("|"),
      "g",
    ),
    accept: (v, text, start) => {
      const d = v.replace(/\D/g, "");
      if (d.length < 8 || d.length > 15) return false;
      if (NOT_PERSONAL.test(before(text, start))) return false;
      // Digits inside an IBAN-shaped run (a bad checksum, so not taken as an IBAN) are no phone.
      if (/\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4})* $/.test(before(text, start, 40))) return false;
      if (v.startsWith("+") || v.startsWith("00")) return true;
      if (v.startsWith("0")) return d.length >= 9 && d.length <= 12;
      return nanpValid(d);
    },
  },
  {
    type: "IP",
    name: "IPv4 or IPv6 address (not loopback, unspecified or broadcast)",
    pattern: new RegExp(
      [
        String.raw`(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|(?=[0-9A-Fa-f:]*:[0-9A`,
        String.raw`-Fa-f:]*:)[0-9A-Fa-f:]{2,39}(?:\d{1,3}(?:\.\d{1,3}){3})?)(?!`,
        String.raw`[\w:]|\.\d)`,
      ].join(""),
      "g",
    ),
    accept: (v, text, start) => {
      if (isIPv4(v)) {
        if (/^(?:0\.0\.0\.0|127\.|255\.255\.255\.255|255\.255\.)/.test(v)) return false;
        return !/(?:\bv(?:ersion)?\s?|\bbuild\s|\brelease\s)$/i.test(before(text, start, 10));
      }
      if (!isIPv6(v)) return false;
      // At least three non-empty groups: "::" and "::1" are not host addresses, times fail isIPv6.
      return v !== "::1" && v.split(":").filter((g) => g !== "").length >= 3;
    },
  },
];

/** Order in which overlapping findings win: the more specific type first. */
export const PRIORITY: readonly PiiType[] = [
  "PRIVATE_KEY",
  "API_KEY",
  "SECRET",
  "EMAIL",
  "IBAN",
  "CARD",
  "NATIONAL_ID",
  "PHONE",
  "IP",
];
