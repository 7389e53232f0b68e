//! Anchors: GitHub-style slugs, link-target decoding and near-miss matching.

use std::borrow::Cow;

/// GitHub's rendered heading ids carry this prefix; links copied from the rendered page keep it.
const GITHUB_PREFIX: &str = "user-content-";

/// The GitHub-style slug of a heading's text: lower-case, spaces to `-`, punctuation and symbols
/// dropped, letters and digits of every script (CJK included) kept.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        match c {
            ' ' => out.push('-'),
            '-' | '_' => out.push(c),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            // CJK ideographs, most of a Chinese heading, have no case: skip the table look-ups.
            '\u{4e00}'..='\u{9fff}' => out.push(c),
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => {}
        }
    }
    out
}

/// The anchor a link target such as `#user-content-1%E6%AD%A3` points at: the `#` and GitHub's
/// `user-content-` prefix dropped, percent-encoding decoded (left as is when it is not UTF-8).
pub fn decode_target(target: &str) -> Cow<'_, str> {
    let target = target.strip_prefix('#').unwrap_or(target);
    let decoded = percent_encoding::percent_decode_str(target)
        .decode_utf8()
        .unwrap_or(Cow::Borrowed(target));
    match decoded {
        Cow::Borrowed(s) => Cow::Borrowed(s.strip_prefix(GITHUB_PREFIX).unwrap_or(s)),
        Cow::Owned(s) => match s.strip_prefix(GITHUB_PREFIX) {
            Some(rest) => Cow::Owned(rest.to_owned()),
            None => Cow::Owned(s),
        },
    }
}

/// A key under which anchors that differ only by case, white space, hyphens, punctuation or a
/// `#` compare equal: the near misses real tables of contents are full of.
pub fn near_key(anchor: &str) -> String {
    anchor
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_github() {
        assert_eq!(slug("Hello, World!"), "hello-world");
        assert_eq!(slug("5.1 面试问题：什么是 LoRA？"), "51-面试问题什么是-lora");
        assert_eq!(slug("a_b - c"), "a_b---c");
        assert_eq!(slug("  📑 目录导航 "), "-目录导航");
    }

    #[test]
    fn targets_are_decoded_and_unprefixed() {
        assert_eq!(decode_target("#q-001"), "q-001");
        assert_eq!(decode_target("#user-content-1abc"), "1abc");
        assert_eq!(decode_target("#%E7%9B%AE%E5%BD%95"), "目录");
        assert_eq!(decode_target("#user-content-%E7%9B%AE"), "目");
        assert_eq!(decode_target("#%FF"), "%FF");
    }

    #[test]
    fn near_keys_ignore_spacing_and_hyphens() {
        assert_eq!(
            near_key("3.Video-Diffusion Models"),
            near_key("3.video diffusion-models")
        );
        assert_eq!(
            near_key("1.视频vs图像：视频建模？"),
            near_key("1.视频 vs 图像视频建模?")
        );
        assert_ne!(near_key("q-001"), near_key("q-002"));
    }
}
