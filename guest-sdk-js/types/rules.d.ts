/// <reference path="./interfaces/rulegate-checkout-decisions.d.ts" />
/// <reference path="./interfaces/rulegate-checkout-host.d.ts" />
/// <reference path="./interfaces/rulegate-checkout-types.d.ts" />
declare module 'rulegate:checkout/rules@0.2.0' {
  export type * as RulegateCheckoutHost020 from 'rulegate:checkout/host@0.2.0'; // import rulegate:checkout/host@0.2.0
  export type * as RulegateCheckoutTypes020 from 'rulegate:checkout/types@0.2.0'; // import rulegate:checkout/types@0.2.0
  export * as decisions from 'rulegate:checkout/decisions@0.2.0'; // export rulegate:checkout/decisions@0.2.0
}
