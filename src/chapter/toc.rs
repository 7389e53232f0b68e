//! Phase 2: the table of contents, the links that point at the chapter's own headings, resolved by
//! anchor, by text or by their place.

use std::collections::{HashMap, HashSet};

use super::*;

impl<'a> Chapter<'a> {
    /// Finds the table of contents and resolves its links. Returns where it ends: the first
    /// heading that an earlier list link points at (0, no table of contents, without one).
    pub(super) fn find_toc(&mut self) -> usize {
        let mut candidates: Vec<usize> = (0..self.links.len())
            .filter(|&i| {
                let l = &self.links[i];
                let local =
                    l.dest.starts_with('#') || !(l.dest.contains(':') || l.dest.contains('/') || l.dest.is_empty());
                !l.image && local && (l.in_list || l.in_heading || l.alone || l.in_table)
            })
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        let index = AnchorIndex::new(&self.headings);
        let mut resolved: Vec<(Option<usize>, Resolution)> =
            candidates.iter().map(|&i| index.resolve(&self.links[i])).collect();
        // A link repeated after the heading it points at (`⬆ Back to Top` after every
        // question) is navigation: a table of contents names each section once, before it.
        // A cross-reference repeats too, but its first use, in the table of contents, points
        // forward.
        let mut uses: HashMap<&str, (usize, bool)> = HashMap::new();
        for (&i, (h, _)) in candidates.iter().zip(&resolved) {
            let l = &self.links[i];
            let u = uses.entry(l.dest.as_ref()).or_default();
            u.0 += 1;
            u.1 |= h.is_some_and(|h| self.headings[h].range.start > l.offset);
        }
        let navigation: HashSet<&str> = uses
            .into_iter()
            .filter(|&(_, (n, forward))| n >= NAVIGATION_REPEATS && !forward)
            .map(|(d, _)| d)
            .collect();
        if !navigation.is_empty() {
            let keep: Vec<bool> = candidates
                .iter()
                .map(|&i| !navigation.contains(self.links[i].dest.as_ref()))
                .collect();
            let mut k = keep.iter();
            candidates.retain(|_| *k.next().expect("one per candidate"));
            let mut k = keep.iter();
            resolved.retain(|_| *k.next().expect("one per candidate"));
        }
        let heading_is_link = |h: usize| self.headings[h].link_target.is_some();
        let first_target = candidates
            .iter()
            .zip(&resolved)
            .filter_map(|(&i, (h, _))| {
                let h = (*h)?;
                (!heading_is_link(h) && self.headings[h].range.start > self.links[i].offset)
                    .then_some(self.headings[h].unit.start)
            })
            .min();
        for (&i, (heading, resolution)) in candidates.iter().zip(resolved) {
            let l = &self.links[i];
            // Links after the table of contents are cross-references inside answers; a link
            // without `#` is a table-of-contents entry only when it names a heading.
            if first_target.is_some_and(|end| l.offset >= end) || (!l.dest.starts_with('#') && heading.is_none()) {
                continue;
            }
            self.toc.push(TocEntry {
                text: l.text.to_string(),
                target: l.dest.to_string(),
                anchor: decode_target(&l.dest).into_owned(),
                line: l.line,
                offset: l.offset,
                heading,
                resolution,
                struck: l.struck,
            });
        }
        self.resolve_by_order();
        // The table of contents ends at the first heading after its last entry; without a
        // forward link every list link is an entry, and no heading is skipped.
        let (Some(_), Some(last)) = (first_target, self.toc.last()) else {
            return 0;
        };
        self.headings
            .iter()
            .find(|h| h.link_target.is_none() && h.range.start > last.offset)
            .map_or(self.text.len(), |h| h.unit.start)
    }

    /// Entries that match nothing, between two that resolve: when as many headings like their
    /// neighbours' stand between those two with no entry of their own, the questions were
    /// renamed after the table of contents was written, and the entries name them in order.
    pub(super) fn resolve_by_order(&mut self) {
        let unresolved = |t: &TocEntry| t.resolution == Resolution::Unresolved && !t.struck;
        if !self.toc.iter().any(unresolved) {
            return;
        }
        let listed: HashSet<usize> = self.toc.iter().filter_map(|t| t.heading).collect();
        let mut i = 0;
        while i < self.toc.len() {
            if !unresolved(&self.toc[i]) {
                i += 1;
                continue;
            }
            let run = i;
            while i < self.toc.len() && unresolved(&self.toc[i]) {
                i += 1;
            }
            // The neighbours that have a heading; struck entries in between stand for
            // questions taken out.
            let gone = |t: &TocEntry| t.struck && t.heading.is_none();
            let prev = self.toc[..run].iter().rev().find(|t| !gone(t)).and_then(|t| t.heading);
            let next = self.toc[i..].iter().find(|t| !gone(t)).and_then(|t| t.heading);
            let (Some(prev), Some(next)) = (prev, next) else {
                continue;
            };
            let like = &self.headings[prev];
            let between: Vec<usize> = (prev + 1..next)
                .filter(|&h| {
                    let h2 = &self.headings[h];
                    !listed.contains(&h)
                        && h2.link_target.is_none()
                        && h2.level == like.level
                        && h2.item_indent.is_some() == like.item_indent.is_some()
                })
                .collect();
            if between.len() == i - run {
                for (t, h) in self.toc[run..i].iter_mut().zip(between) {
                    t.heading = Some(h);
                    t.resolution = Resolution::Order;
                }
            }
        }
    }
}

/// Uses of one local link, none before its heading, that make it navigation rather than a
/// table-of-contents entry.
pub(super) const NAVIGATION_REPEATS: usize = 3;

/// Lookup tables from anchors and texts to headings, for resolving table-of-contents links.
/// Most links hit `exact`; the fallback tables are built on the first miss.
struct AnchorIndex<'h> {
    headings: &'h [Heading],
    exact: HashMap<&'h str, usize>,
    fallback: std::cell::OnceCell<Fallback<'h>>,
}

struct Fallback<'h> {
    folded: HashMap<String, usize>,
    text: HashMap<&'h str, usize>,
    near: HashMap<String, usize>,
}

impl<'h> AnchorIndex<'h> {
    /// Link headings are table-of-contents entries themselves, not targets.
    fn targets(headings: &'h [Heading]) -> impl Iterator<Item = (usize, &'h Heading)> {
        headings.iter().enumerate().filter(|(_, h)| h.link_target.is_none())
    }

    fn new(headings: &'h [Heading]) -> Self {
        let mut exact = HashMap::new();
        for (i, h) in Self::targets(headings) {
            for a in h.ids.iter().chain([&h.slug]) {
                exact.entry(a.as_str()).or_insert(i);
            }
        }
        AnchorIndex {
            headings,
            exact,
            fallback: std::cell::OnceCell::new(),
        }
    }

    fn fallback(&self) -> &Fallback<'h> {
        self.fallback.get_or_init(|| {
            let mut f = Fallback {
                folded: HashMap::new(),
                text: HashMap::new(),
                near: HashMap::new(),
            };
            for (i, h) in Self::targets(self.headings) {
                for a in h.ids.iter().chain([&h.slug]) {
                    f.folded.entry(a.to_lowercase()).or_insert(i);
                    f.near.entry(near_key(a)).or_insert(i);
                }
                f.text.entry(h.text.as_str()).or_insert(i);
            }
            f
        })
    }

    fn resolve(&self, link: &Link<'_>) -> (Option<usize>, Resolution) {
        let anchor = decode_target(&link.dest);
        if link.dest.starts_with('#') {
            if let Some(&h) = self.exact.get(anchor.as_ref()) {
                return (Some(h), Resolution::Anchor);
            }
            let f = self.fallback();
            if let Some(&h) = f.folded.get(&anchor.to_lowercase()) {
                return (Some(h), Resolution::Anchor);
            }
            if let Some(&h) = f.text.get(link.text.as_ref()) {
                return (Some(h), Resolution::Text);
            }
        }
        match self.fallback().near.get(&near_key(&anchor)) {
            Some(&h) => (Some(h), Resolution::NearMiss),
            None => (None, Resolution::Unresolved),
        }
    }
}
