//! Token counts before sending: exact with the model's own tokenizer where aigcq has it
//! (OpenAI's, through tiktoken), else an estimate from the characters.

/// An estimate of the tokens of `text` from its characters, by DeepSeek's published rule of
/// thumb for its tokenizer (about 0.6 token per Chinese character, 0.3 per other character),
/// which Qwen's, GLM's and OpenAI's newer tokenizers come close to.
pub fn estimate(text: &str) -> u64 {
    let (mut cjk, mut other) = (0u64, 0u64);
    for c in text.chars() {
        if crate::text::is_cjk(c) {
            cjk += 1;
        } else {
            other += 1;
        }
    }
    (cjk * 6 + other * 3).div_ceil(10)
}

/// Counts tokens for one model.
pub enum Counter {
    /// OpenAI's tokenizer for the model (`o200k_base`, `cl100k_base`).
    Tiktoken(&'static tiktoken_rs::CoreBPE),
    /// [`estimate`]: no tokenizer of this model is built in.
    Estimate,
}

impl Counter {
    /// The exact tokenizer when aigcq has the model's (OpenAI's models), else the estimate.
    pub fn for_model(model: &str) -> Counter {
        match tiktoken_rs::bpe_for_model(model) {
            Ok(bpe) => Counter::Tiktoken(bpe),
            Err(_) => Counter::Estimate,
        }
    }

    /// Tokens of `text`.
    pub fn count(&self, text: &str) -> u64 {
        match self {
            Counter::Tiktoken(bpe) => bpe.encode_ordinary(text).len() as u64,
            Counter::Estimate => estimate(text),
        }
    }

    /// How the counts are made, for the dry run's report.
    pub fn method(&self) -> &'static str {
        match self {
            Counter::Tiktoken(_) => "counted with OpenAI's tokenizer",
            Counter::Estimate => {
                "estimated at 0.6 per Chinese character and 0.3 per other character: no tokenizer of this model is built in"
            }
        }
    }
}

/// Tokens of a request's messages: their text and about 4 per message for the chat format.
pub fn messages(counter: &Counter, m: &crate::llm::Messages) -> u64 {
    m.all().iter().map(|t| counter.count(&t.content) + 4).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_models_are_counted_exactly_and_others_estimated() {
        let c = Counter::for_model("gpt-4o-mini");
        assert!(matches!(c, Counter::Tiktoken(_)));
        assert_eq!(c.count("hello world"), 2);
        let c = Counter::for_model("deepseek-chat");
        assert!(matches!(c, Counter::Estimate));
        // 4 CJK characters and 6 others: 2.4 + 1.8, rounded up.
        assert_eq!(c.count("扩散模型 is ok"), 5);
    }
}
