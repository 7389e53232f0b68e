//! What a run costs: a model's prices from `[prices."MODEL"]`, the cost of reported `usage`,
//! and the low–high estimate `draft --dry-run` prints before anything is sent.

use serde::{Deserialize, Serialize};

use crate::llm::Messages;
use crate::llm::Usage;
use crate::llm::tokens::Counter;

/// A model's prices per million tokens, as its provider publishes them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Prompt tokens, per million.
    pub input: f64,
    /// Prompt tokens served from the provider's cache (default: `input`).
    pub cached_input: Option<f64>,
    /// Completion tokens, per million.
    pub output: f64,
    /// `USD`, `CNY`, …
    pub currency: String,
    /// When the prices were read off the provider's page (`YYYY-MM-DD`): prices change.
    pub effective: Option<String>,
    /// What batch requests cost as a share of the normal price (default 0.5).
    #[serde(default = "half")]
    pub batch: f64,
}

fn half() -> f64 {
    0.5
}

impl Price {
    /// Prices must be finite and not negative; the batch share a fraction.
    pub fn check(&self) -> Result<(), String> {
        let named = [
            ("input", Some(self.input)),
            ("cached_input", self.cached_input),
            ("output", Some(self.output)),
            ("batch", Some(self.batch)),
        ];
        for (name, v) in named {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                return Err(format!("{name} = {v} is not a price (a number of 0 or more)"));
            }
        }
        if self.batch > 1.0 {
            return Err(format!(
                "batch = {} is a share of the normal price, at most 1",
                self.batch
            ));
        }
        Ok(())
    }

    /// The cost of `usage`; `batch` applies the batch discount.
    pub fn cost(&self, usage: &Usage, batch: bool) -> f64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let fresh = usage.prompt_tokens - cached;
        let m = 1e-6 * if batch { self.batch } else { 1.0 };
        m * (fresh as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + usage.completion_tokens as f64 * self.output)
    }

    /// `0.0123 USD`, with as many decimals as a small sum needs.
    pub fn format(&self, amount: f64) -> String {
        format!("{} {}", amount_text(amount), self.currency)
    }

    /// `0.012–0.025 USD`.
    pub fn format_range(&self, low: f64, high: f64) -> String {
        format!("{}–{} {}", amount_text(low), amount_text(high), self.currency)
    }
}

fn amount_text(amount: f64) -> String {
    match amount.abs() {
        a if a >= 100.0 => format!("{amount:.0}"),
        a if a >= 1.0 => format!("{amount:.2}"),
        a if a >= 0.01 => format!("{amount:.3}"),
        _ => format!("{amount:.4}"),
    }
}

/// Token counts of a planned run: prompts exactly as rendered, answers as a range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Requests the run sends.
    pub requests: u64,
    /// Prompt tokens they hold.
    pub prompt_tokens: u64,
    /// Of the prompt tokens, those a provider's cache can serve: the prefix each prompt
    /// shares with its chapter's first, when that prefix is long enough to be cached.
    pub cacheable_tokens: u64,
    /// Completion tokens at the least (a short answer per request).
    pub output_low: u64,
    /// Completion tokens at the most (`max_tokens` per request, or a long answer).
    pub output_high: u64,
}

/// Low and high costs of a [`Plan`], for the three ways of running it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Every prompt token at the input price.
    pub run: (f64, f64),
    /// Cacheable tokens at the cached price.
    pub cached: (f64, f64),
    /// `draft --batch`: the batch discount, no cache.
    pub batch: (f64, f64),
}

impl Plan {
    /// What the tokens cost at `price`: sent as they are, with the cache, and batched.
    pub fn estimate(&self, price: &Price) -> Estimate {
        let usage = |output, cached| Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: output,
            cached_tokens: cached,
        };
        let range = |cached, batch| {
            (
                price.cost(&usage(self.output_low, cached), batch),
                price.cost(&usage(self.output_high, cached), batch),
            )
        };
        Estimate {
            run: range(0, false),
            cached: range(self.cacheable_tokens, false),
            batch: range(0, true),
        }
    }
}

/// The smallest prompt prefix providers cache (OpenAI, DeepSeek, Qwen start here).
pub const MIN_CACHED_PREFIX: u64 = 1024;

/// One planned request: its chapter, its rendered messages and the range of answer tokens
/// expected (all candidates together).
pub struct Request<'a> {
    /// The chapter the request is for.
    pub chapter: &'a str,
    /// What it sends.
    pub messages: &'a Messages,
    /// The completion tokens it may take, least and most.
    pub output: (u64, u64),
}

/// The token counts of `requests`. A request's cacheable tokens are the prefix its text
/// shares with the first request of its chapter, when that prefix reaches
/// [`MIN_CACHED_PREFIX`].
pub fn plan<'a>(requests: impl IntoIterator<Item = Request<'a>>, counter: &Counter) -> Plan {
    let mut plan = Plan::default();
    let mut first: Option<(&str, String)> = None;
    for r in requests {
        let text = sent_text(r.messages);
        plan.requests += 1;
        plan.prompt_tokens += crate::llm::tokens::messages(counter, r.messages);
        plan.output_low += r.output.0;
        plan.output_high += r.output.1;
        match &first {
            Some((chapter, head)) if *chapter == r.chapter => {
                let shared = head
                    .char_indices()
                    .zip(text.chars())
                    .find(|((_, a), b)| a != b)
                    .map_or(head.len().min(text.len()), |((i, _), _)| i);
                let tokens = counter.count(&text[..shared]);
                if tokens >= MIN_CACHED_PREFIX {
                    plan.cacheable_tokens += tokens;
                }
            }
            _ => first = Some((r.chapter, text)),
        }
    }
    plan
}

/// The messages' text in the order sent.
fn sent_text(m: &Messages) -> String {
    m.all().into_iter().map(|t| t.content).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> Price {
        Price {
            input: 2.0,
            cached_input: Some(0.5),
            output: 8.0,
            currency: "USD".into(),
            effective: None,
            batch: 0.5,
        }
    }

    #[test]
    fn cached_tokens_cost_the_cached_price_and_batch_halves_everything() {
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            cached_tokens: 400_000,
        };
        let p = price();
        assert!((p.cost(&u, false) - (0.6 * 2.0 + 0.4 * 0.5 + 0.5 * 8.0)).abs() < 1e-9);
        assert!((p.cost(&u, true) - p.cost(&u, false) / 2.0).abs() < 1e-9);
        assert_eq!(p.format(0.00123), "0.0012 USD");
        assert_eq!(p.format(12.345), "12.35 USD");
    }

    #[test]
    fn prompts_sharing_a_long_prefix_with_their_chapters_first_are_cacheable() {
        let shared = "共享的章节前缀，".repeat(300);
        let m = |chapter_text: &str, q: &str| Messages {
            system: Some("规则".into()),
            user: format!("{chapter_text}{q}"),
            turns: Vec::new(),
            cache_key: None,
        };
        let (a, b, c) = (m(&shared, "第一题"), m(&shared, "第二题"), m("短", "第三题"));
        let req = |chapter, messages| Request {
            chapter,
            messages,
            output: (10, 30),
        };
        let counter = Counter::Estimate;
        let p = plan(
            [req("a.md", &a), req("a.md", &b), req("b.md", &c), req("b.md", &c)],
            &counter,
        );
        assert_eq!(p.requests, 4);
        assert_eq!((p.output_low, p.output_high), (40, 120));
        // b shares the rules and the chapter text with a; c's chapter is too short to cache.
        let prefix = crate::llm::tokens::estimate(&format!("规则\n{shared}第"));
        assert_eq!(p.cacheable_tokens, prefix);
        assert!(p.prompt_tokens > 2 * prefix);
    }

    #[test]
    fn an_estimate_spans_the_answer_range_for_each_way_of_running() {
        let plan = Plan {
            requests: 2,
            prompt_tokens: 1_000_000,
            cacheable_tokens: 500_000,
            output_low: 100_000,
            output_high: 300_000,
        };
        let e = plan.estimate(&price());
        assert!((e.run.0 - 2.8).abs() < 1e-9 && (e.run.1 - 4.4).abs() < 1e-9, "{e:?}");
        assert!((e.cached.0 - 2.05).abs() < 1e-9, "{e:?}");
        assert!((e.batch.1 - 2.2).abs() < 1e-9, "{e:?}");
    }
}
