//! Phase 3: which headings ask questions (by the patterns, by the bank's style, by the table of
//! contents) and where each answer begins and ends.

use std::collections::HashSet;
use std::ops::Range;

use super::answers::is_separator_line;
use super::*;

impl<'a> Chapter<'a> {
    /// A heading of the chapter's own outline: not a `<summary>`, not inside a `<details>`
    /// block or a list item, not a link.
    pub(super) fn is_section(h: &Heading) -> bool {
        h.style != HeadingStyle::Summary && !h.nested && h.item_indent.is_none() && h.link_target.is_none()
    }

    /// The heading of a `<summary>` at `offset`.
    pub(super) fn summary_heading(&self, offset: usize) -> Option<&Heading> {
        let i = self.headings.partition_point(|h| h.range.start < offset);
        self.headings.get(i).filter(|h| h.range.start == offset)
    }

    /// For each heading, the `<details>` block that holds its answer, at the levels whose
    /// headings keep their answers so (at least three, and four in five of that level's
    /// headings); and those levels. The block is the last thing of the heading's section
    /// (rules and navigation aside), and its summary does not ask a question itself.
    pub(super) fn answer_boxes(&self, rules: &Rules) -> (Vec<Option<usize>>, [bool; 7]) {
        let mut found = vec![None; self.headings.len()];
        let mut levels = [false; 7];
        if self.details.is_empty() {
            return (found, levels);
        }
        let sections: Vec<usize> = (0..self.headings.len())
            .filter(|&h| Self::is_section(&self.headings[h]))
            .collect();
        let mut counts = [(0usize, 0usize); 7];
        let mut first = 0;
        for (k, &h) in sections.iter().enumerate() {
            let heading = &self.headings[h];
            let (from, to) = (
                heading.unit.end,
                sections
                    .get(k + 1)
                    .map_or(self.text.len(), |&n| self.headings[n].unit.start),
            );
            first += self.details[first..].partition_point(|d| d.open < from);
            let level = usize::from(heading.level.min(6));
            counts[level].0 += 1;
            let block = self.details[first..]
                .iter()
                .enumerate()
                .take_while(|(_, d)| d.open < to)
                .find(|(_, d)| {
                    let asks = d
                        .summary
                        .and_then(|s| self.summary_heading(s))
                        .is_some_and(|s| asks(&s.text, rules));
                    !d.nested
                        && !asks
                        && d.close_line_end <= to
                        && self.text[d.close_line_end..to].lines().all(is_separator_line)
                });
            if let Some((i, _)) = block {
                counts[level].1 += 1;
                found[h] = Some(first + i);
            }
        }
        for (level, &(all, boxed)) in counts.iter().enumerate() {
            levels[level] = boxed >= 3 && boxed * 5 >= all * 4;
        }
        for (h, f) in found.iter_mut().enumerate() {
            if !levels[usize::from(self.headings[h].level.min(6))] {
                *f = None;
            }
        }
        (found, levels)
    }

    /// Whether the chapter asks its questions in `<summary>`s: at least three summaries outside
    /// any question's section and answer blocks, half of which ask, and more asking than
    /// its headings do. Then every such summary is
    /// a question (`Explain …`), and headings only label groups of them.
    pub(super) fn summaries_ask(&self, rules: &Rules, boxes: &HashSet<usize>, in_toc: &[Option<usize>]) -> bool {
        let candidate = |heading: &Heading| {
            heading.style == HeadingStyle::Summary
                && !heading.nested
                && !boxes.contains(&heading.range.start)
                && !rules.summary_label.is_match(&heading.text)
        };
        // The candidates under each section heading with no text of its own before them: a
        // heading the table of contents links to is a question, unless it only holds three
        // or more summaries (a group of them: devops-exercises links its topic headings).
        let mut under: Vec<usize> = vec![0; self.headings.len()];
        let mut section = None;
        for (h, heading) in self.headings.iter().enumerate() {
            if Self::is_section(heading) {
                section = Some(h);
            } else if let Some(s) = section.filter(|_| candidate(heading)) {
                let own = &self.text[self.headings[s].unit.end..heading.range.start.max(self.headings[s].unit.end)];
                if under[s] > 0 || !has_text(own) {
                    under[s] += 1;
                } else {
                    section = None;
                }
            }
        }
        let (mut seen, mut asking, mut under_question, mut asking_headings) = (0, 0, false, 0);
        for (h, heading) in self.headings.iter().enumerate() {
            if Self::is_section(heading) {
                let asks = asks(&heading.text, rules);
                asking_headings += usize::from(asks);
                under_question = in_toc[h].is_some() && under[h] < 3 || asks;
            } else if candidate(heading) && !under_question {
                seen += 1;
                asking += usize::from(asks_or_sets_task(&heading.text, rules));
            }
        }
        // And more of them ask than headings do: follow-ups under a few statement headings
        // (Waking-Up's `### TCP与UDP的区别`) do not make a bank of summaries.
        seen >= 3 && asking * 2 >= seen && asking > asking_headings
    }

    /// The headings that are questions written as statements (`My macOS apps don't find
    /// Homebrew utilities`): at a level where nearly every heading asks (at least eight, nine
    /// in ten), one that stands between two asking headings of that level. A summary or a
    /// reference list after the last question stays what it is. On a page that calls itself
    /// an FAQ, every heading of its question level (the level with the most headings) is one.
    /// A bare label (`Summary`, `useState`) is no statement.
    pub(super) fn statement_questions(&self, rules: &Rules, in_toc: &[Option<usize>]) -> Vec<bool> {
        let mut statements = vec![false; self.headings.len()];
        // Per level, the headings in order with whether each asks.
        let mut levels: [Vec<(usize, bool)>; 7] = Default::default();
        for (h, heading) in self.headings.iter().enumerate() {
            let text = question_text(&heading.text);
            if !Self::is_section(heading) || text.is_empty() || rules.structural.is_match(text) {
                continue;
            }
            levels[usize::from(heading.level.min(6))].push((h, in_toc[h].is_some() || asks(text, rules)));
        }
        let label = |h: usize| is_label(question_text(&self.headings[h].text));
        if self.calls_itself_faq(rules) {
            // The title's level holds one heading; ties go to the shallower level.
            let busiest = (1..levels.len()).rev().max_by_key(|&l| levels[l].len());
            if let Some(level) = busiest.filter(|&l| levels[l].len() >= 2) {
                for &(h, _) in &levels[level] {
                    statements[h] = !label(h);
                }
                return statements;
            }
        }
        for level in &levels {
            let asking = level.iter().filter(|(_, a)| *a).count();
            if level.len() < 8 || asking == level.len() || asking * 10 < level.len() * 9 {
                continue;
            }
            for w in level.windows(3) {
                if w[0].1 && !w[1].1 && w[2].1 && !label(w[1].0) {
                    statements[w[1].0] = true;
                }
            }
        }
        statements
    }

    /// For a bank that asks in plain list items (`- Doctype作用？…` with the answer indented
    /// under it), read only when nothing else asks: adds a heading of style
    /// [`HeadingStyle::Item`] for each item of the top-level lists that mostly ask (half their
    /// items or more, three asking items in all), and says whether it added any.
    pub(super) fn list_questions(&mut self, rules: &Rules) -> bool {
        // The items with their first lines' ranges and texts, in lists of adjacent items.
        let mut lists: Vec<Vec<(usize, Range<usize>, String)>> = Vec::new();
        let mut previous_end = None;
        for (i, item) in self.list_items.iter().enumerate() {
            let lead = self.lead(item);
            let text = plain_text(&self.text[lead.clone()]);
            let adjacent = previous_end
                .and_then(|end: usize| self.text.get(end..item.item.start))
                .is_some_and(|between| between.trim().is_empty());
            if !adjacent {
                lists.push(Vec::new());
            }
            previous_end = Some(item.item.end);
            let only_link = self.text[lead.clone()].trim_start().starts_with('[')
                && self.text[lead.clone()].trim_end().ends_with(')');
            if !text.is_empty() && !only_link {
                lists.last_mut().expect("pushed above").push((i, lead, text));
            }
        }
        let asking = |list: &[(usize, Range<usize>, String)]| list.iter().filter(|(_, _, t)| asks(t, rules)).count();
        let chosen: Vec<&Vec<_>> = lists
            .iter()
            .filter(|l| asking(l) > 0 && asking(l) * 2 >= l.len())
            .collect();
        if chosen.iter().map(|l| asking(l)).sum::<usize>() < 3 {
            return false;
        }
        let mut added = Vec::new();
        for &(i, ref lead, ref text) in chosen.into_iter().flatten() {
            let item = &self.list_items[i];
            let start = self.line_start(item.item.start);
            let before = self.headings.partition_point(|h| h.range.start < start);
            let level = self.headings[..before]
                .iter()
                .rev()
                .find(|h| Self::is_section(h))
                .map_or(1, |h| (h.level + 1).min(6));
            added.push(Heading {
                level,
                style: HeadingStyle::Item,
                range: lead.clone(),
                unit: start..self.line_end(lead.end),
                line: self.line_of(item.item.start),
                text: text.clone(),
                ids: Vec::new(),
                slug: String::new(),
                link_target: None,
                item_indent: Some(lead.start - self.line_start(lead.start)),
                scope_end: Some(item.item.end),
                nested: false,
            });
        }
        // Into text order; the indices the table of contents and the blocks keep follow.
        let mut all = std::mem::take(&mut self.headings);
        all.extend(added);
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by_key(|&i| all[i].range.start);
        let mut moved = vec![0; all.len()];
        for (new, &old) in order.iter().enumerate() {
            moved[old] = new;
        }
        for t in &mut self.toc {
            t.heading = t.heading.map(|h| moved[h]);
        }
        for b in &mut self.blocks {
            if let BlockKind::Heading(h) = &mut b.kind {
                *h = moved[*h];
            }
        }
        let mut all: Vec<Option<Heading>> = all.into_iter().map(Some).collect();
        self.headings = order.into_iter().filter_map(|i| all[i].take()).collect();
        self.assign_slugs();
        true
    }

    /// The first line of a list item, with the lines that continue it: up to a blank line
    /// or a line that starts a block of its own (a list, code, a table, HTML, a quote).
    fn lead(&self, item: &ListItem) -> Range<usize> {
        let start = item.lead.min(item.item.end);
        let indent = start - self.line_start(start);
        let (mut end, mut offset) = (start, start);
        for (n, line) in self.text[start..item.item.end].split_inclusive('\n').enumerate() {
            let t = line.trim();
            let numbered = t
                .split_once(['.', ')'])
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let block = ["- ", "* ", "+ ", "```", "~~~", "<", "|", ">"]
                .iter()
                .any(|m| t.starts_with(m))
                || numbered
                || line.starts_with('\t')
                || line.len() - line.trim_start_matches(' ').len() >= indent + 4;
            if t.is_empty() || n > 0 && block {
                break;
            }
            end = offset + line.trim_end().len();
            offset += line.len();
        }
        start..end
    }

    /// Whether the page calls itself an FAQ, in its title or its front matter.
    fn calls_itself_faq(&self, rules: &Rules) -> bool {
        let front = ["---", "+++"].into_iter().find_map(|fence| {
            let rest = self.text.strip_prefix(fence)?.strip_prefix(['\n', '\r'])?;
            rest.find(&format!("\n{fence}")).map(|end| &rest[..end])
        });
        self.title().is_some_and(|t| rules.faq.is_match(t)) || front.is_some_and(|f| rules.faq.is_match(f))
    }

    /// Decides which headings are questions and where their answers end.
    pub(super) fn find_questions(&mut self, toc_end: usize, rules: &Rules) {
        // The first table-of-contents entry linking to each heading.
        let mut in_toc: Vec<Option<usize>> = vec![None; self.headings.len()];
        for (i, t) in self.toc.iter().enumerate().rev() {
            if let Some(h) = t.heading {
                in_toc[h] = Some(i);
            }
        }
        let (boxes, boxed_levels) = self.answer_boxes(rules);
        let box_summaries: HashSet<usize> = boxes
            .iter()
            .flatten()
            .filter_map(|&d| self.details[d].summary)
            .collect();
        let summaries_ask = self.summaries_ask(rules, &box_summaries, &in_toc);
        let statements = if summaries_ask {
            Vec::new()
        } else {
            self.statement_questions(rules, &in_toc)
        };
        // Open questions, outermost first: (question index, level, has a child question).
        let mut stack: Vec<(usize, u8, bool)> = Vec::new();
        // The question whose answer is still open.
        let mut open: Option<usize> = None;

        #[allow(clippy::needless_range_loop)] // `self` is mutated inside the loop.
        for h in 0..self.headings.len() {
            let heading = &self.headings[h];
            if heading.link_target.is_some() || heading.nested || heading.unit.start < toc_end && in_toc[h].is_none() {
                continue;
            }
            let (level, start, text) = (heading.level, heading.unit.start, question_text(&heading.text));
            // A list item's answer may also stand after the item (see `narrow_to_item`).
            let scope = heading.scope_end.filter(|_| heading.item_indent.is_none());
            let end = scope.unwrap_or(self.text.len()).max(heading.unit.end);
            if heading.style == HeadingStyle::Item {
                // Chosen by `list_questions`: the rest of the item is the answer.
                let indent = heading.item_indent.unwrap_or(0);
                let answer = heading.unit.end..self.text.len().max(heading.unit.end);
                self.push_question(h, answer, None, Holder::Item { indent }, &mut stack, &mut open);
                continue;
            }
            if heading.style == HeadingStyle::Summary {
                // A follow-up question inside an answer, or one of a bank of `<details>`.
                if rules.summary_label.is_match(text)
                    || box_summaries.contains(&heading.range.start)
                    || !(summaries_ask || asks(text, rules))
                {
                    continue;
                }
                let answer = heading.unit.end..end;
                let closed = heading.scope_end.is_some();
                self.push_question(h, answer, in_toc[h], Holder::Summary, &mut stack, &mut open);
                // An unclosed block runs to the next question.
                if closed {
                    open = None;
                }
                continue;
            }
            // In a bank of `<summary>` questions, headings only label groups.
            // A label the table of contents lists under an answered question (`map`, `Summary`)
            // heads part of that answer.
            let in_answer = || {
                is_label(text)
                    && !rules.question.is_match(text)
                    && stack
                        .iter()
                        .rev()
                        .find(|&&(_, l, _)| l < level)
                        .is_some_and(|&(q, _, group)| {
                            let body = self.headings[self.questions[q].heading].unit.end..start;
                            !group && self.classify(body, rules) != Some(GapKind::Empty)
                        })
            };
            let linked = in_toc[h].is_some() && !summaries_ask && !in_answer();
            let boxed = boxed_levels[usize::from(level.min(6))] && heading.item_indent.is_none() && !text.is_empty();
            let strong = linked || boxed || rules.strong.is_match(text);
            let weak = !strong && (rules.question.is_match(text) || statements.get(h).copied().unwrap_or(false));
            let structural = (strong || weak) && rules.structural.is_match(text);
            let (strong, weak) = (strong && !structural, weak && !structural);

            let is_question = strong
                || weak && {
                    // Deeper than the open question: a sub-question only when that question is a
                    // group (it has sub-questions, or nothing written before this heading);
                    // otherwise a numbered sub-heading of its answer.
                    let parent = stack.iter().rev().find(|&&(_, l, _)| l < level);
                    match parent {
                        None | Some(&(_, _, true)) => true,
                        Some(&(q, _, false)) => {
                            // "### 24、" after "## 23、" continues the numbering: a question
                            // written one level too deep.
                            let previous = self.questions.last().map(|p| self.headings[p.heading].text.as_str());
                            let continues = matches!(
                                (previous.and_then(leading_number), leading_number(text)),
                                (Some(p), Some(n)) if n == p + 1
                            );
                            let body = self.headings[self.questions[q].heading].unit.end..start;
                            continues || self.classify(body, rules) == Some(GapKind::Empty)
                        }
                    }
                };

            if is_question {
                while stack.last().is_some_and(|&(_, l, _)| l >= level) {
                    stack.pop();
                }
                let holder = match heading.item_indent {
                    Some(indent) => Holder::Item { indent },
                    None if boxed => Holder::Details,
                    None => Holder::Section,
                };
                let answer = heading.unit.end..end;
                self.push_question(h, answer, in_toc[h], holder, &mut stack, &mut open);
                stack.push((self.questions.len() - 1, level, false));
            } else if let Some(q) = open.filter(|&q| level < self.headings[self.questions[q].heading].level) {
                // A higher-ranked heading that is no question ends the answer.
                let a = &mut self.questions[q].answer;
                a.end = a.end.min(start);
                open = None;
                while stack.last().is_some_and(|&(_, l, _)| l >= level) {
                    stack.pop();
                }
            }
        }
        for q in 0..self.questions.len() {
            match self.questions[q].holder {
                Holder::Details => self.place_in_box(q, boxes[self.questions[q].heading]),
                Holder::Item { .. } => self.narrow_to_item(q),
                _ => {}
            }
            let question = &self.questions[q];
            let gap = match question.holder {
                Holder::Section => self.classify(question.answer.clone(), rules),
                _ if question.unboxed => Some(GapKind::Empty),
                _ => self.classify_apart(question, rules),
            };
            // A parent question with text of its own is answered; without, it is a group.
            let q = &mut self.questions[q];
            q.group &= gap.is_some();
            q.gap = if q.group { None } else { gap };
        }
    }

    /// Adds the question of heading `h`: the innermost open question becomes its parent
    /// group, the answer still open ends where this one starts, and this answer is open.
    pub(super) fn push_question(
        &mut self,
        h: usize,
        answer: Range<usize>,
        toc: Option<usize>,
        holder: Holder,
        stack: &mut [(usize, u8, bool)],
        open: &mut Option<usize>,
    ) {
        if let Some(parent) = stack.last_mut() {
            parent.2 = true;
            self.questions[parent.0].group = true;
        }
        if let Some(q) = open.take() {
            let a = &mut self.questions[q].answer;
            a.end = a.end.min(self.headings[h].unit.start);
        }
        self.questions.push(Question {
            heading: h,
            index: self.questions.len() + 1,
            answer,
            group: false,
            toc,
            gap: None,
            holder,
            stem: None,
            unboxed: false,
        });
        *open = Some(self.questions.len() - 1);
    }

    /// A list-item question's answer is the rest of its item and what follows the item up to
    /// the next question: an answer's text indented less than the item (`   For example`
    /// under `21. ### …`) still belongs to it. Separators after the item (`⬆ Back to Top`)
    /// do not.
    pub(super) fn narrow_to_item(&mut self, q: usize) {
        let Some(item_end) = self.headings[self.questions[q].heading].scope_end else {
            return;
        };
        let answer = &mut self.questions[q].answer;
        let floor = item_end.clamp(answer.start, answer.end);
        let mut end = answer.end;
        for line in self.text[floor..answer.end].split_inclusive('\n').rev() {
            if !is_separator_line(line) {
                break;
            }
            end -= line.len();
        }
        answer.end = end;
    }

    /// Narrows a [`Holder::Details`] question's answer to the content of its `<details>`
    /// block; without one, to the empty place after its stem where one goes.
    pub(super) fn place_in_box(&mut self, q: usize, block: Option<usize>) {
        let section = self.questions[q].answer.clone();
        let block = block.map(|d| &self.details[d]).filter(|d| d.open < section.end);
        let (stem_end, answer) = match block {
            Some(d) => {
                let body_start = d
                    .summary
                    .and_then(|s| self.summary_heading(s))
                    .map_or(d.open_line_end, |s| s.unit.end);
                let body = self.unwrap_lines(body_start..d.body_end.max(body_start));
                let form = (self.line_start(d.open)..body.start, body.end..d.close_line_end);
                self.details_form.get_or_insert(form);
                (self.line_start(d.open), body)
            }
            None => {
                let text = &self.text[section.clone()];
                let mut keep = text.len();
                for line in text.split_inclusive('\n').rev() {
                    if !is_separator_line(line) {
                        break;
                    }
                    keep -= line.len();
                }
                let at = section.start + keep;
                (at, at..at)
            }
        };
        let stem = section.start..stem_end.max(section.start);
        let question = &mut self.questions[q];
        question.unboxed = block.is_none();
        question.stem = (!self.text[stem.clone()].trim().is_empty()).then_some(stem);
        question.answer = answer;
    }

    /// `range` without the lines of wrapper tags around its content (`<p>` first, `</p>`
    /// last, as `lydiahallie/javascript-questions` writes them): they belong to the block's
    /// form, not to the answer.
    pub(super) fn unwrap_lines(&self, range: Range<usize>) -> Range<usize> {
        let wrapper = |line: &str, closing: bool| {
            let t = line.trim();
            t.starts_with('<') && t[1..].starts_with('/') == closing && html::is_blank(t)
        };
        let (mut start, mut end) = (range.start, range.end);
        let mut at = start;
        for line in self.text[range.clone()].split_inclusive('\n') {
            at += line.len();
            if wrapper(line, false) {
                start = at;
            } else if !line.trim().is_empty() {
                break;
            }
        }
        let mut at = end;
        for line in self.text[start..range.end].split_inclusive('\n').rev() {
            at -= line.len();
            if wrapper(line, true) {
                end = at;
            } else if !line.trim().is_empty() {
                break;
            }
        }
        start..end.max(start)
    }
}

/// A heading's text as the question patterns see it: emphasis markers the parser left as
/// text (`**297.**inline的用法`) and the `***` some banks mark unanswered questions with
/// removed.
pub(crate) fn question_text(text: &str) -> &str {
    text.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace())
}

/// A heading that only names something (`Summary`, `useState`, `示例代码`): at most two
/// words, short, asking nothing. Under an answer it is part of that answer.
fn is_label(text: &str) -> bool {
    let chars = crate::text::visible_chars(text);
    let cjk = text.chars().any(|c| c >= '\u{2E80}');
    text.split_whitespace().count() <= 2 && chars <= if cjk { 6 } else { 24 } && !text.ends_with(['?', '？'])
}

/// Markdown's text without its markup, white space folded.
fn plain_text(markdown: &str) -> String {
    use pulldown_cmark::{Event, Parser};
    let mut text = String::new();
    for event in Parser::new_ext(markdown, parser_options()) {
        if let Event::Text(t) | Event::Code(t) | Event::InlineMath(t) = event {
            text.push_str(&t);
        } else if let Event::SoftBreak | Event::HardBreak = event {
            text.push(' ');
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a heading's text asks a question by the patterns alone.
pub(crate) fn asks(text: &str, rules: &Rules) -> bool {
    let text = question_text(text);
    (rules.strong.is_match(text) || rules.question.is_match(text)) && !rules.structural.is_match(text)
}

/// Whether a text asks by the patterns or sets a task (`Explain …`, `说明…`).
pub(crate) fn asks_or_sets_task(text: &str, rules: &Rules) -> bool {
    asks(text, rules) || rules.task.is_match(question_text(text))
}

/// The number a heading starts with (`24、…` → 24).
pub(super) fn leading_number(text: &str) -> Option<u64> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    text[..digits].parse().ok()
}

/// Whether `html` has text outside its tags (letters or digits).
fn has_text(html: &str) -> bool {
    let mut in_tag = false;
    html.chars().any(|c| {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ => return !in_tag && c.is_alphanumeric(),
        }
        false
    })
}
