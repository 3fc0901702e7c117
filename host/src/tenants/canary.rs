//! Canary releases: a candidate answers a share of a tenant's checkouts while the
//! active version answers the rest, and guardrails compare the two over the same
//! window. The first breached guardrail ends the canary; a canary that reaches its
//! sample and age without a breach is promoted.
//!
//! What a canary is ([`Canary`], [`CanarySettings`]) and how each ended
//! ([`CanaryOutcome`]) live in the tenant's state in the store; the figures
//! ([`Figures`]) are counted by the host that answered.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::decide::{Decisions, Split};
use crate::engine::SharedRuleSet;
use crate::model::Verdict;

/// Ended canaries kept per tenant.
pub const KEEP_ENDED: usize = 20;

/// Buckets of the fuel and latency histograms: bucket `i` holds values up to
/// `GROWTH^i`, so a p99 is known within 10 %.
const BUCKETS: usize = 256;
const GROWTH: f64 = 1.1;

/// Callbacks each side needs before a p99 means anything (below, it is the maximum:
/// one cold first call would decide).
const P99_SAMPLE: u64 = 100;

/// A latency p99 ratio is a breach only when the difference is also this large (µs):
/// below it, the ratio of two fast answers is noise.
const LATENCY_SLACK_US: f64 = 1000.0;

/// How a canary runs: its share, its guardrails and when it is promoted. Rates are
/// fractions; a rate guardrail allows the canary that much more than the active
/// version, a ratio guardrail that many times the active version's p99.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanarySettings {
    /// The share of checkouts the candidate answers, 1 to 50 (percent).
    pub percent: u8,
    /// Canary callbacks before any guardrail may decide.
    #[serde(default = "defaults::min_callbacks")]
    pub min_callbacks: u64,
    /// Module failures (trap, fuel, deadline, memory, contract) per callback.
    #[serde(default = "defaults::failure_rate")]
    pub max_failure_rate_increase: f64,
    /// Callbacks the failure policy answered (any failure, `cannot-decide` included).
    #[serde(default = "defaults::fallback_rate")]
    pub max_fallback_rate_increase: f64,
    /// Rejections per validation.
    #[serde(default = "defaults::rejection_rate")]
    pub max_rejection_rate_increase: f64,
    /// The p99 of fuel per callback.
    #[serde(default = "defaults::fuel_ratio")]
    pub max_fuel_p99_ratio: f64,
    /// The p99 of decision time per callback.
    #[serde(default = "defaults::latency_ratio")]
    pub max_latency_p99_ratio: f64,
    /// Canary callbacks before promotion.
    #[serde(default = "defaults::promote_after_callbacks")]
    pub promote_after_callbacks: u64,
    /// Age (ms) before promotion.
    #[serde(default = "defaults::promote_after_ms")]
    pub promote_after_ms: u64,
}

/// The documented defaults.
mod defaults {
    pub fn min_callbacks() -> u64 {
        100
    }
    pub fn failure_rate() -> f64 {
        0.01
    }
    pub fn fallback_rate() -> f64 {
        0.01
    }
    pub fn rejection_rate() -> f64 {
        0.05
    }
    pub fn fuel_ratio() -> f64 {
        1.5
    }
    pub fn latency_ratio() -> f64 {
        2.0
    }
    pub fn promote_after_callbacks() -> u64 {
        1000
    }
    pub fn promote_after_ms() -> u64 {
        10 * 60 * 1000
    }
}

impl CanarySettings {
    /// Settings a canary can run with, or what is wrong with them.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=50).contains(&self.percent) {
            return Err(format!(
                "`percent` is {}; a canary answers 1 to 50 percent of checkouts",
                self.percent
            ));
        }
        for (name, value) in [
            ("max_failure_rate_increase", self.max_failure_rate_increase),
            (
                "max_fallback_rate_increase",
                self.max_fallback_rate_increase,
            ),
            (
                "max_rejection_rate_increase",
                self.max_rejection_rate_increase,
            ),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("`{name}` is {value}; a rate is between 0 and 1"));
            }
        }
        for (name, value) in [
            ("max_fuel_p99_ratio", self.max_fuel_p99_ratio),
            ("max_latency_p99_ratio", self.max_latency_p99_ratio),
        ] {
            if !(value.is_finite() && value >= 1.0) {
                return Err(format!("`{name}` is {value}; a ratio is at least 1"));
            }
        }
        if self.min_callbacks == 0 || self.promote_after_callbacks < self.min_callbacks {
            return Err(format!(
                "`min_callbacks` is {} and `promote_after_callbacks` {}: the sample must be \
                 at least one callback, and promotion needs at least the sample",
                self.min_callbacks, self.promote_after_callbacks
            ));
        }
        Ok(())
    }
}

/// A running canary, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    /// The candidate version.
    pub version: String,
    /// How it runs.
    pub settings: CanarySettings,
    /// When it started (ms since the epoch); also what tells one canary from the next.
    pub started_ms: u64,
    /// The tenant's signers who signed the candidate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_by: Vec<String>,
}

/// How a canary ended, kept in the tenant's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryOutcome {
    /// The candidate version.
    pub version: String,
    /// When it started and ended (ms since the epoch).
    pub started_ms: u64,
    /// When it ended.
    pub ended_ms: u64,
    /// `rolled_back` (a guardrail), `promoted`, or `ended` (by the operator, or
    /// another activation).
    pub outcome: String,
    /// Why: the breached guardrail with its figures, or what ended it.
    pub reason: String,
    /// Both sides' figures when it ended, as this host counted them.
    #[serde(default)]
    pub figures: Value,
    /// The host that ended it, when the store is shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// What one side of a canary answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Side {
    /// Callbacks that ran rules.
    pub callbacks: u64,
    /// Callbacks with a module failure (trap, fuel, deadline, memory, contract).
    pub failures: u64,
    /// Callbacks the failure policy answered, for any reason.
    pub fallbacks: u64,
    /// Callbacks with a verdict.
    pub validations: u64,
    /// Verdicts that rejected.
    pub rejections: u64,
    fuel: Vec<u64>,
    latency_us: Vec<u64>,
}

impl Default for Side {
    fn default() -> Self {
        Side {
            callbacks: 0,
            failures: 0,
            fallbacks: 0,
            validations: 0,
            rejections: 0,
            fuel: vec![0; BUCKETS],
            latency_us: vec![0; BUCKETS],
        }
    }
}

fn bucket(value: u64) -> usize {
    if value <= 1 {
        return 0;
    }
    ((value as f64).ln() / GROWTH.ln())
        .ceil()
        .min((BUCKETS - 1) as f64) as usize
}

fn percentile(histogram: &[u64], total: u64, quantile: f64) -> f64 {
    let wanted = ((total as f64) * quantile).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= wanted {
            return GROWTH.powi(i as i32);
        }
    }
    0.0
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Side {
    /// Adds another host's counts of the same side.
    pub fn add(&mut self, other: &Side) {
        self.callbacks += other.callbacks;
        self.failures += other.failures;
        self.fallbacks += other.fallbacks;
        self.validations += other.validations;
        self.rejections += other.rejections;
        for (ours, theirs) in [
            (&mut self.fuel, &other.fuel),
            (&mut self.latency_us, &other.latency_us),
        ] {
            if ours.len() == theirs.len() {
                ours.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
            }
        }
    }

    /// Counts one callback's decisions.
    pub fn count(&mut self, decisions: &Decisions) {
        self.callbacks += 1;
        let mut fallbacks = decisions.fallbacks().peekable();
        if fallbacks.peek().is_some() {
            self.fallbacks += 1;
        }
        if fallbacks.any(|(_, failure)| matches!(failure, crate::decide::Failure::Engine(_))) {
            self.failures += 1;
        }
        if let Some(verdict) = &decisions.verdict {
            self.validations += 1;
            if !matches!(verdict.answer, Ok(Verdict::Approve)) {
                self.rejections += 1;
            }
        }
        self.fuel[bucket(decisions.usage.fuel)] += 1;
        self.latency_us[bucket(decisions.elapsed.as_micros() as u64)] += 1;
    }

    fn failure_rate(&self) -> f64 {
        rate(self.failures, self.callbacks)
    }
    fn fallback_rate(&self) -> f64 {
        rate(self.fallbacks, self.callbacks)
    }
    fn rejection_rate(&self) -> f64 {
        rate(self.rejections, self.validations)
    }
    fn fuel_p99(&self) -> f64 {
        percentile(&self.fuel, self.callbacks, 0.99)
    }
    fn latency_p99_us(&self) -> f64 {
        percentile(&self.latency_us, self.callbacks, 0.99)
    }

    /// The side's figures, for the admin API and the history.
    pub fn json(&self) -> Value {
        json!({
            "callbacks": self.callbacks,
            "failure_rate": self.failure_rate(),
            "fallback_rate": self.fallback_rate(),
            "rejection_rate": self.rejection_rate(),
            "validations": self.validations,
            "fuel_p99": self.fuel_p99(),
            "latency_p99_us": self.latency_p99_us(),
        })
    }
}

/// Both sides of a running canary, `(active, canary)`: counted on this host from its
/// start, and, on a fleet, the other hosts' counts as the store last had them.
#[derive(Debug, Default)]
pub struct Figures {
    sides: Mutex<(Side, Side)>,
    elsewhere: Mutex<(Side, Side)>,
}

/// What the guardrails say after a callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Keep going.
    Continue,
    /// A guardrail is breached: end the canary now.
    Breach(String),
    /// Sample and age reached without a breach: promote.
    Promote,
}

impl Figures {
    /// Counts a callback the canary (`canary`) or the active version answered.
    pub fn count(&self, canary: bool, decisions: &Decisions) {
        let mut sides = self.sides.lock().unwrap_or_else(|e| e.into_inner());
        if canary {
            sides.1.count(decisions)
        } else {
            sides.0.count(decisions)
        }
    }

    /// This host's counts, `(active, canary)`.
    pub fn here(&self) -> (Side, Side) {
        self.sides.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes the other hosts' counts, summed.
    pub fn set_elsewhere(&self, elsewhere: (Side, Side)) {
        *self.elsewhere.lock().unwrap_or_else(|e| e.into_inner()) = elsewhere;
    }

    /// Every host's counts, summed.
    fn total(&self) -> (Side, Side) {
        let mut total = self.here();
        let elsewhere = self.elsewhere.lock().unwrap_or_else(|e| e.into_inner());
        total.0.add(&elsewhere.0);
        total.1.add(&elsewhere.1);
        total
    }

    /// Callbacks the canary answered, on every host.
    pub fn canary_callbacks(&self) -> u64 {
        self.total().1.callbacks
    }

    /// Both sides' figures on every host: `{"active": ..., "canary": ...}`.
    pub fn json(&self) -> Value {
        let (active, canary) = self.total();
        json!({ "active": active.json(), "canary": canary.json() })
    }

    /// The guardrails' verdict on `canary` at `now_ms`, over every host's counts.
    pub fn judge(&self, canary: &Canary, now_ms: u64) -> Judgement {
        let sides = self.total();
        let (active, candidate) = (&sides.0, &sides.1);
        let settings = &canary.settings;
        if candidate.callbacks < settings.min_callbacks {
            return Judgement::Continue;
        }
        let rates = [
            (
                "failure rate",
                candidate.failure_rate(),
                active.failure_rate(),
                settings.max_failure_rate_increase,
            ),
            (
                "fallback rate",
                candidate.fallback_rate(),
                active.fallback_rate(),
                settings.max_fallback_rate_increase,
            ),
            (
                "rejection rate",
                candidate.rejection_rate(),
                active.rejection_rate(),
                settings.max_rejection_rate_increase,
            ),
        ];
        for (name, ours, theirs, allowed) in rates {
            if ours > theirs + allowed {
                return Judgement::Breach(format!(
                    "{name} {:.2} % against the active version's {:.2} % (allowed: +{:.2} points) over {} canary callbacks",
                    ours * 100.0,
                    theirs * 100.0,
                    allowed * 100.0,
                    candidate.callbacks
                ));
            }
        }
        // A ratio needs a p99 from a sample of its own on each side.
        let sample = settings.min_callbacks.max(P99_SAMPLE);
        if active.callbacks >= sample && candidate.callbacks >= sample {
            let ratios = [
                (
                    "fuel p99",
                    candidate.fuel_p99(),
                    active.fuel_p99(),
                    settings.max_fuel_p99_ratio,
                    0.0,
                    "",
                ),
                (
                    "latency p99",
                    candidate.latency_p99_us(),
                    active.latency_p99_us(),
                    settings.max_latency_p99_ratio,
                    LATENCY_SLACK_US,
                    " µs",
                ),
            ];
            for (name, ours, theirs, allowed, slack, unit) in ratios {
                if theirs > 0.0 && ours > theirs * allowed && ours - theirs > slack {
                    return Judgement::Breach(format!(
                        "{name} {ours:.0}{unit} against the active version's {theirs:.0}{unit} ({:.2}×, allowed {allowed}×)",
                        ours / theirs
                    ));
                }
            }
        }
        if candidate.callbacks >= settings.promote_after_callbacks
            && now_ms.saturating_sub(canary.started_ms) >= settings.promote_after_ms
        {
            return Judgement::Promote;
        }
        Judgement::Continue
    }
}

/// A canary this host runs: what the store says, the candidate's rules, and the
/// figures this host counted since it installed it.
pub struct Running {
    /// The canary.
    pub canary: Canary,
    /// The candidate's rules.
    pub rules: SharedRuleSet,
    /// Both sides' figures.
    pub figures: Figures,
    /// Set once this host decided to end or promote it, so it does so once.
    ending: AtomicBool,
}

impl Running {
    /// A canary's run, with no figures yet.
    pub fn new(canary: Canary, rules: SharedRuleSet) -> Running {
        Running {
            canary,
            rules,
            figures: Figures::default(),
            ending: AtomicBool::new(false),
        }
    }

    /// The split a callback of `tenant` decides with.
    pub fn split(&self, tenant: &str) -> Split {
        Split {
            rules: self.rules.clone(),
            percent: self.canary.settings.percent,
            tenant: tenant.to_string(),
        }
    }

    /// Whether this caller is the first to end or promote it.
    pub fn begin_ending(&self) -> bool {
        !self.ending.swap(true, Ordering::AcqRel)
    }

    /// Lets a later callback try again (a promotion the store did not take).
    pub fn abandon_ending(&self) {
        self.ending.store(false, Ordering::Release);
    }

    /// The canary with its live figures, for the admin API.
    pub fn json(&self) -> Value {
        let mut json = json!(self.canary);
        json["figures"] = self.figures.json();
        json
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::decide::{Failure, Resolved};
    use crate::engine::{EngineError, Usage};
    use crate::model::{Cart, Platform, Rejection, RejectionCode, empty_cart};

    fn settings(percent: u8) -> CanarySettings {
        serde_json::from_value(json!({ "percent": percent, "min_callbacks": 10 })).unwrap()
    }

    fn canary() -> Canary {
        Canary {
            version: "sha256:c".into(),
            settings: settings(20),
            started_ms: 0,
            signed_by: Vec::new(),
        }
    }

    /// One validation's decisions: approved, rejected, or failed (`trap`).
    fn validation(verdict: &str, fuel: u64, micros: u64) -> Decisions {
        let rejection = Rejection {
            code: RejectionCode::Other,
            message: "no".into(),
        };
        let resolved = match verdict {
            "approve" => Resolved {
                answer: Ok(Verdict::Approve),
                fallback: None,
            },
            "reject" => Resolved {
                answer: Ok(Verdict::Reject(rejection)),
                fallback: None,
            },
            _ => Resolved {
                answer: Err(rejection),
                fallback: Some(Failure::Engine(EngineError::Trap {
                    message: "unreachable".into(),
                })),
            },
        };
        let cart: Cart = empty_cart(Platform::Kco, "EUR", 0);
        Decisions {
            tax: None,
            shipping: None,
            verdict: Some(resolved),
            usage: Usage {
                fuel,
                ..Usage::default()
            },
            module: "sha256:c".into(),
            input: Arc::new(cart),
            elapsed: Duration::from_micros(micros),
        }
    }

    #[test]
    fn settings_are_checked_and_defaults_documented() {
        let defaults = settings(20);
        assert_eq!(defaults.check(), Ok(()));
        assert_eq!(defaults.max_failure_rate_increase, 0.01);
        assert_eq!(defaults.promote_after_callbacks, 1000);
        for percent in [0, 51, 101] {
            assert!(settings(percent).check().is_err(), "{percent}");
        }
        let mut bad = settings(20);
        bad.max_fuel_p99_ratio = 0.5;
        assert!(bad.check().unwrap_err().contains("max_fuel_p99_ratio"));
        let mut bad = settings(20);
        bad.promote_after_callbacks = 5;
        assert!(bad.check().is_err());
    }

    #[test]
    fn the_first_breached_guardrail_decides_after_the_sample() {
        let canary = canary();
        // Failures: nothing is decided before the sample, then the rate breaches.
        let figures = Figures::default();
        for i in 0..9 {
            figures.count(false, &validation("approve", 1000, 100));
            figures.count(
                true,
                &validation(if i == 0 { "trap" } else { "approve" }, 1000, 100),
            );
        }
        assert_eq!(figures.judge(&canary, 0), Judgement::Continue);
        figures.count(true, &validation("approve", 1000, 100));
        let Judgement::Breach(reason) = figures.judge(&canary, 0) else {
            panic!("no breach");
        };
        assert!(reason.starts_with("failure rate 10.00 %"), "{reason}");

        // Rejections: compared with the active version's own rate.
        let figures = Figures::default();
        for i in 0..20 {
            let verdict = if i % 10 == 0 { "reject" } else { "approve" };
            figures.count(false, &validation(verdict, 1000, 100));
            figures.count(true, &validation(verdict, 1000, 100));
        }
        assert_eq!(figures.judge(&canary, 0), Judgement::Continue);
        for _ in 0..3 {
            figures.count(true, &validation("reject", 1000, 100));
        }
        assert!(
            matches!(figures.judge(&canary, 0), Judgement::Breach(r) if r.starts_with("rejection rate"))
        );

        // Fuel: a ratio of p99s, judged once each side has 100 callbacks.
        let figures = Figures::default();
        for _ in 0..99 {
            figures.count(false, &validation("approve", 1000, 100));
            figures.count(true, &validation("approve", 3000, 100));
        }
        assert_eq!(figures.judge(&canary, 0), Judgement::Continue);
        figures.count(false, &validation("approve", 1000, 100));
        figures.count(true, &validation("approve", 3000, 100));
        assert!(
            matches!(figures.judge(&canary, 0), Judgement::Breach(r) if r.starts_with("fuel p99"))
        );

        // Latency: twice as slow but within a millisecond is noise.
        let figures = Figures::default();
        for _ in 0..100 {
            figures.count(false, &validation("approve", 1000, 200));
            figures.count(true, &validation("approve", 1000, 600));
        }
        assert_eq!(figures.judge(&canary, 0), Judgement::Continue);
        for _ in 0..5 {
            figures.count(true, &validation("approve", 1000, 5000));
        }
        assert!(
            matches!(figures.judge(&canary, 0), Judgement::Breach(r) if r.starts_with("latency p99"))
        );
    }

    #[test]
    fn a_clean_canary_is_promoted_after_its_sample_and_its_age() {
        let mut canary = canary();
        canary.settings.promote_after_callbacks = 20;
        canary.settings.promote_after_ms = 1000;
        let figures = Figures::default();
        for _ in 0..20 {
            figures.count(false, &validation("approve", 1000, 100));
            figures.count(true, &validation("approve", 900, 90));
        }
        assert_eq!(figures.judge(&canary, 999), Judgement::Continue);
        assert_eq!(figures.judge(&canary, 1000), Judgement::Promote);
        assert_eq!(figures.json()["canary"]["callbacks"], 20);
    }
}
