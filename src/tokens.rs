//! Token counts before sending: exact with the model's own tokenizer where aigcq has it
//! (OpenAI's, through tiktoken), else an estimate from the characters.

/// An estimate of the tokens of `text` from its characters, by DeepSeek's published rule of
/// thumb for its tokenizer (about 0.6 token per Chinese character, 0.3 per other character),
/// which Qwen's, GLM's and OpenAI's newer tokenizers come close to.
pub fn estimate(text: &str) -> u64 {
    let (mut cjk, mut other) = (0u64, 0u64);
    for c in text.chars() {
        if crate::prompt::is_cjk(c) {
            cjk += 1;
        } else {
            other += 1;
        }
    }
    (cjk * 6 + other * 3).div_ceil(10)
}
