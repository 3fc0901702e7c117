/// <reference path="../types/rules.d.ts" preserve="true" />
/**
 * The contract's types (`rulegate:checkout@0.2.0`), as generated from `wit/` into
 * `types/` by `npm run types`: re-exported under one name so rules import them from
 * the SDK.
 */

export type {
  Address,
  Attribute,
  BasisPoints,
  Cart,
  Customer,
  CustomerKind,
  Line,
  LineKind,
  MilliUnits,
  MinorUnits,
  PickupPoint,
  Platform,
  Price,
  Rejection,
  RejectionCode,
  RuleError,
  SeparateTax,
  ShippingMethod,
  ShippingOption,
  TaxDecision,
  Verdict,
} from "rulegate:checkout/types@0.2.0";
