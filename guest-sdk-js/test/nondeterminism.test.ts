import assert from "node:assert/strict";
import { test } from "node:test";

import { nondeterministicUses } from "../src/nondeterminism.js";

test("the clock, randomness, timers and the network are found, with their file", () => {
  const bundle = [
    "// src/rules.ts",
    "const a = Date.now();",
    "const b = new Date();",
    "const c = Math.random();",
    "// node_modules/lib/index.js",
    "setTimeout(() => 1, 5);",
    "fetch('https://example.com');",
    "const d = performance.now();",
  ].join("\n");
  const uses = nondeterministicUses(bundle).map((use) => [use.what, use.file, use.line]);
  assert.deepEqual(uses, [
    ["Date.now()", "src/rules.ts", 2],
    ["new Date()", "src/rules.ts", 3],
    ["Math.random()", "src/rules.ts", 4],
    ["setTimeout", "node_modules/lib/index.js", 6],
    ["fetch", "node_modules/lib/index.js", 7],
    ["performance", "node_modules/lib/index.js", 8],
  ]);
});

test("dates of a given instant and ordinary code pass", () => {
  const bundle = [
    "// src/rules.ts",
    "const when = new Date(Number(cart.receivedAtMs));",
    "const day = when.getUTCDay();",
    "const max = Math.max(1, 2);",
    "const parsed = Date.parse('2026-01-01');",
  ].join("\n");
  assert.deepEqual(nondeterministicUses(bundle), []);
});
