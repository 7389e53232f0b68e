//! Text helpers every stage shares: which script a character is, which language a text is
//! in.

/// `zh` or `en`, from the share of CJK characters among the letters of `text`.
pub fn language(text: &str) -> &'static str {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        cjk += usize::from(is_cjk(c));
    }
    if letters > 0 && cjk * 5 >= letters { "zh" } else { "en" }
}

static WORD: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"[A-Za-z][A-Za-z0-9]*(?:[-+.][A-Za-z0-9]+)*").expect("valid"));

/// The words of `text` written in Latin letters (`GLM-Image`, `LoRA`, `vmstat`, `v1.5`).
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    WORD.find_iter(text).map(|m| m.as_str())
}

/// A question's key terms, lower case: its Latin words that stand out (`glm-image`,
/// `seedream`, `dit`, `vmstat` in a Chinese chapter); in an English chapter only those with a
/// capital past the first letter or a digit, since every word there is Latin.
pub fn key_terms(question: &str, cjk_chapter: bool) -> Vec<String> {
    let mut out: Vec<String> = words(question)
        .filter(|t| t.len() >= 2)
        .filter(|t| {
            cjk_chapter || t.chars().skip(1).any(|c| c.is_ascii_uppercase()) || t.chars().any(|c| c.is_ascii_digit())
        })
        .map(str::to_ascii_lowercase)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A Chinese, Japanese or Korean character.
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}' | '\u{f900}'..='\u{faff}')
}

/// Counts the non-blank characters of `s` without decoding it: bytes that start a character
/// and are not ASCII space or control. Branch-free so that it vectorises; it runs on all text.
pub fn visible_chars(s: &str) -> usize {
    s.as_bytes()
        .chunks(255)
        .map(|chunk| {
            // As i8: ASCII visible is 33..=127, a UTF-8 lead byte -64..=-1, a continuation
            // byte below -64; a u8 counter cannot overflow in 255 bytes.
            let n: u8 = chunk
                .iter()
                .map(|&b| u8::from(b as i8 > 32) | u8::from(b >= 0xC0))
                .sum();
            usize::from(n)
        })
        .sum()
}

/// Shares `budget` between texts of `lens` characters: each gets an equal share, and what a
/// short one leaves goes to the longer ones.
pub fn fair_shares(lens: &[usize], budget: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| lens[i]);
    let mut shares = vec![0; lens.len()];
    let mut left = budget;
    for (k, &i) in order.iter().enumerate() {
        let share = left / (order.len() - k);
        shares[i] = lens[i].min(share);
        left -= shares[i];
    }
    shares
}

/// At most `chars` characters of `s`, ending at a blank line when one fits, else at a line
/// end, else anywhere.
pub fn cut_at_paragraph(s: &str, chars: usize) -> &str {
    let end = s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i);
    if end == s.len() {
        return s;
    }
    let head = &s[..end];
    let at = head.rfind("\n\n").or_else(|| head.rfind('\n')).filter(|&i| i > 0);
    head[..at.unwrap_or(end)].trim_end()
}
