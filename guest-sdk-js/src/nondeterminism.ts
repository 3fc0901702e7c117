/**
 * What a rules module may not use although the JavaScript engine offers it: the clock,
 * randomness, timers and the network. In the component every WASI import is a stub that
 * traps, and what the engine took at build time (`Math.random()`'s seed) is in its
 * snapshot and repeats on every call, so a rule using them would fail on every cart or
 * be wrong without failing. The build refuses them, naming each use.
 */

import { parse } from "acorn";
import { simple } from "acorn-walk";

/** One use the build refuses. */
export interface Use {
  /** What is used, e.g. `Date.now()`. */
  what: string;
  /** What to use instead. */
  instead: string;
  /** The 1-based line in the bundle, and the source file esbuild noted above it. */
  line: number;
  file: string | undefined;
}

const CLOCK = "cart.receivedAtMs, when the callback arrived";
const GLOBALS: Record<string, string> = {
  performance: CLOCK,
  crypto: "a value derived from the cart (randomness would make answers differ)",
  fetch: "data in the module or the cart (a rules module has no network)",
  XMLHttpRequest: "data in the module or the cart (a rules module has no network)",
  WebSocket: "data in the module or the cart (a rules module has no network)",
  setTimeout: "plain code: a decision runs to its end at once",
  setInterval: "plain code: a decision runs to its end at once",
};

/** The refused uses in the bundled JavaScript `code`. */
export function nondeterministicUses(code: string): Use[] {
  const ast = parse(code, { ecmaVersion: "latest", sourceType: "module", locations: true });
  const lines = code.split("\n");
  const fileAt = (line: number): string | undefined => {
    for (let i = line - 1; i >= 0; i--) {
      const marker = /^\/\/ (\S.*)$/.exec(lines[i] ?? "");
      if (marker) {
        return marker[1];
      }
    }
    return undefined;
  };
  const uses: Use[] = [];
  const found = (what: string, instead: string, node: { loc?: { start: { line: number } } | null }) => {
    const line = node.loc?.start.line ?? 0;
    uses.push({ what, instead, line, file: fileAt(line) });
  };
  const named = (node: unknown, name: string): boolean =>
    (node as { type?: string; name?: string }).type === "Identifier" &&
    (node as { name?: string }).name === name;
  simple(ast, {
    MemberExpression(node) {
      const property = node.property as { name?: string };
      if (named(node.object, "Math") && property.name === "random") {
        found("Math.random()", "a value derived from the cart (randomness would make answers differ)", node);
      }
      if (named(node.object, "Date") && property.name === "now") {
        found("Date.now()", CLOCK, node);
      }
    },
    NewExpression(node) {
      if (named(node.callee, "Date") && node.arguments.length === 0) {
        found("new Date()", `new Date(Number(${CLOCK.split(",")[0]}))`, node);
      }
    },
    CallExpression(node) {
      if (named(node.callee, "Date")) {
        found("Date()", CLOCK, node);
      }
    },
    Identifier(node) {
      const instead = GLOBALS[node.name];
      if (instead !== undefined) {
        found(node.name, instead, node);
      }
    },
  });
  return uses;
}
