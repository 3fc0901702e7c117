/**
 * The component boundary. The JavaScript engine's bindings (componentize-qjs, QuickJS)
 * carry the contract's 64-bit integers as numbers and an absent `option` as `null`, and
 * lower a decision's `rule-error` from the value it throws. Rules see what the
 * contract's TypeScript types say instead: `bigint`, `undefined`, and a thrown
 * {@link RuleFailure}. The build's entry exports the module's decisions through
 * {@link exported}; nothing else uses this file.
 */

import { cannotDecide } from "./helpers.js";
import { PARAMETERS } from "./wide.js";

/** Where a value carries a 64-bit integer: `true` for the value itself, `[item]` for a
 * list, a record's fields by name (`src/wide.ts`, generated from the contract). */
export type Wide = true | readonly [Wide] | { readonly [field: string]: Wide };

/** The largest integer a number holds exactly: beyond it the bindings have rounded. */
const EXACT = BigInt(Number.MAX_SAFE_INTEGER);

function beyond(value: number | bigint): Error {
  return cannotDecide(
    `${value} is beyond ±(2^53 - 1), the largest integer JavaScript rules take or give exactly`,
  );
}

/** A parameter as the contract's types describe it, converted in place: the bindings
 * built it for this call alone. */
function inward(value: unknown, wide: Wide | null | undefined): unknown {
  if (value === null) {
    return undefined;
  }
  if (wide === true && typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw beyond(value);
    }
    return BigInt(value);
  }
  if (Array.isArray(value)) {
    const item = Array.isArray(wide) ? (wide[0] as Wide) : undefined;
    for (let i = 0; i < value.length; i++) {
      value[i] = inward(value[i], item);
    }
    return value;
  }
  if (typeof value === "object") {
    const fields = value as Record<string, unknown>;
    const inner = wide === undefined || wide === null || Array.isArray(wide) ? undefined : (wide as Record<string, Wide>);
    for (const key in fields) {
      fields[key] = inward(fields[key], inner?.[key]);
    }
  }
  return value;
}

/** An answer as the bindings take it, copied: a rule may answer with a shared or
 * frozen constant. */
function outward(value: unknown): unknown {
  if (typeof value === "bigint") {
    if (value > EXACT || value < -EXACT) {
      throw beyond(value);
    }
    return Number(value);
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  // A typed array goes as a plain one: componentize-qjs 0.4.5 traps on a `Uint32Array`
  // as the first field of a decision's answer (`tax-decision.line-rates`).
  if (Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    return Array.from(value as ArrayLike<unknown>, outward);
  }
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    copy[key] = outward(field);
  }
  return copy;
}

/** The `rule-error` a thrown value answers with, or `undefined` when it is a trap. */
function ruleError(thrown: unknown): unknown {
  const payload = (thrown as { payload?: { tag?: unknown } } | null)?.payload;
  return thrown instanceof Error && typeof payload?.tag === "string" ? payload : undefined;
}

type Decision = (...parameters: never[]) => unknown;

/** One half of a `quote`: the decision's answer or its `rule-error` as a `result`;
 * anything else rethrown (the host sees a trap and asks each decision on its own). */
function half(decide: Decision, decisions: object, cart: never): unknown {
  try {
    return { tag: "ok", val: outward(decide.call(decisions, cart)) };
  } catch (thrown) {
    const error = ruleError(thrown);
    if (error === undefined) {
      throw thrown;
    }
    return { tag: "err", val: error };
  }
}

/** `decisions` as the component exports them: parameters made `bigint` and `undefined`,
 * answers made numbers, a {@link RuleFailure}'s payload thrown as the `rule-error`, and
 * anything else rethrown (the host sees a trap). The contract's `quote` is added: the
 * rules' `shippingOptions` and `tax` on the cart converted once, each half its own
 * result. */
export function exported<T extends object>(decisions: T): T {
  const exports: Record<string, Decision> = {};
  for (const [name, decide] of Object.entries(decisions) as Array<[string, Decision]>) {
    const wide = PARAMETERS[name] ?? [];
    exports[name] = (...parameters: never[]) => {
      try {
        const inner = parameters.map((parameter, i) => inward(parameter, wide[i])) as never[];
        return outward(decide.apply(decisions, inner));
      } catch (thrown) {
        throw ruleError(thrown) ?? thrown;
      }
    };
  }
  const { shippingOptions, tax } = decisions as Partial<Record<string, Decision>>;
  if (shippingOptions !== undefined && tax !== undefined) {
    const wide = PARAMETERS.quote?.[0];
    exports.quote = (cart: never) => {
      const inner = inward(cart, wide) as never;
      return { shipping: half(shippingOptions, decisions, inner), tax: half(tax, decisions, inner) };
    };
  }
  return exports as T;
}
