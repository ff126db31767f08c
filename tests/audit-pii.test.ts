// PII and secret detectors: each type found and redacted, tricky look-alikes left alone, and
// precision / recall on the labelled file tests/fixtures/pii-labelled.jsonl.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  auditPii,
  findPii,
  type LabelledText,
  PII_TYPES,
  redactPii,
  scorePii,
} from "../lib/audits/pii.js";
import { ibanValid, luhn } from "../lib/audits/pii-detectors.js";

describe("findPii", () => {
  it.each([
    [
      "EMAIL",
      "write to jane.doe+news@mail.example.co.uk today",
      "jane.doe+news@mail.example.co.uk",
    ],
    ["PHONE", "call (415) 555-0132 after five", "(415) 555-0132"],
    ["PHONE", "tel +44 20 7946 0958", "+44 20 7946 0958"],
    ["CARD", "card 4111 1111 1111 1111 exp 09/27", "4111 1111 1111 1111"],
    ["CARD", "amex 3782 822463 10005", "3782 822463 10005"],
    ["IBAN", "IBAN GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32"],
    ["IBAN", "to DE89370400440532013000", "DE89370400440532013000"],
    ["NATIONAL_ID", "my SSN is 123-45-6789", "123-45-6789"],
    ["NATIONAL_ID", "NI number AB 12 34 56 C", "AB 12 34 56 C"],
    ["IP", "login from 203.0.113.42 blocked", "203.0.113.42"],
    ["IP", "host 2001:db8::ff00:42:8329 is up", "2001:db8::ff00:42:8329"],
    ["API_KEY", "key AKIAIOSFODNN7EXAMPLE in config", "AKIAIOSFODNN7EXAMPLE"],
    [
      "API_KEY",
      "token ghp_0123456789abcdefghijABCDEFGHIJ012345",
      "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    ],
    [
      "PRIVATE_KEY",
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
    ],
    ["SECRET", "DB_PASSWORD=xK9#mPq2vLw7", "xK9#mPq2vLw7"],
  ])("finds %s in %j", (type, text, value) => {
    const found = findPii(text);

    expect(found.map((f) => [f.type, f.value])).toEqual([[type, value]]);
  });

  it.each([
    "Your order #4111111111111111 has shipped",
    "upgrade to version 1.2.3.4 today",
    "see https://github.com/x/y/commit/3f9a2c1b7d44a0e9c1b2d3e4f5a6b7c8d9e0f1a2",
    "meeting on 2024-03-15 at 10:30:45",
    "use icon@2x.png and clone git@github.com:x/y.git",
    "card 4111 1111 1111 1112 failed the check",
    "IBAN DE00 3704 0044 0532 0130 00 is wrong",
    "part no. 123-45-6789 is out of stock",
    "password: required",
    "listen on 0.0.0.0 or 127.0.0.1",
    "MAC 00:1A:2B:3C:4D:5E",
  ])("leaves %j alone", (text) => {
    expect(findPii(text)).toEqual([]);
  });

  it("redacts to typed placeholders", () => {
    expect(redactPii("mail a@example.com or call +1 415 555 0132")).toBe(
      "mail [EMAIL] or call [PHONE]",
    );
  });

  it("checks Luhn and mod-97", () => {
    expect([luhn("4111111111111111"), luhn("4111111111111112")]).toEqual([true, false]);
    expect([ibanValid("GB82WEST12345698765432"), ibanValid("GB83WEST12345698765432")]).toEqual([
      true,
      false,
    ]);
  });
});

describe("auditPii", () => {
  it("lists findings by record with the value masked", () => {
    const r = auditPii([
      { file: "d.jsonl", line: 3, input: "I am jane@example.com", output: "ok" },
      { file: "d.jsonl", line: 4, input: "what time is it", output: "time" },
    ]);

    expect(r.counts.recordsWithPii).toBe(1);
    expect(r.counts.EMAIL).toBe(1);
    expect(r.findings[0]).toMatchObject({
      file: "d.jsonl",
      line: 3,
      field: "input",
      redacted: "I am [EMAIL]",
    });
    expect(r.findings[0].masked).not.toContain("jane@example");
  });
});

describe("labelled file", () => {
  const lines: LabelledText[] = readFileSync(
    new URL("./fixtures/pii-labelled.jsonl", import.meta.url),
    "utf8",
  )
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

  it("has at least 200 positives and 200 negatives", () => {
    expect(lines.filter((l) => l.pii.length > 0).length).toBeGreaterThanOrEqual(200);
    expect(lines.filter((l) => l.pii.length === 0).length).toBeGreaterThanOrEqual(200);
  });

  it.each(PII_TYPES.map((t) => [t]))("%s has precision and recall >= 0.9", (type) => {
    const s = scorePii(lines).perType[type];

    expect(s.tp).toBeGreaterThan(10);
    expect(s.precision).toBeGreaterThanOrEqual(0.9);
    expect(s.recall).toBeGreaterThanOrEqual(0.9);
  });
});
