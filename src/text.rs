//! Small text helpers for messages: "did you mean" suggestions, quoted lists and values
//! clipped to a length a terminal can show.
//!
//! Everything here may see hostile input (a manifest is any text up to the loader's cap), so
//! every function does bounded work: suggestions compare a capped number of candidates of a
//! similar length, and a [`Suggester`] stops suggesting after a fixed number of tries.

/// The most characters of one value a message quotes; longer values end in `…`.
pub const MAX_QUOTED: usize = 60;
/// The most characters a whole message or hint keeps (values quoted without backticks, such
/// as those a YAML parser echoes, are caught by this).
pub const MAX_MESSAGE: usize = 600;
/// Items a [`quoted_some`] list shows before it says how many more there are.
pub const MAX_LISTED: usize = 10;
/// Words longer than this get no suggestion: every name we suggest is at most 63 bytes.
const MAX_WORD: usize = 64;
/// Candidates of a similar length compared with one word; the rest are not looked at.
const MAX_COMPARED: usize = 128;
/// Candidates looked at (by length only) for one word.
const MAX_SCANNED: usize = 2048;

/// `text` cut to [`MAX_QUOTED`] characters, with `…` when something was cut.
pub fn clip(text: &str) -> String {
    clip_to(text, MAX_QUOTED)
}

fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A message with every backticked value clipped to [`MAX_QUOTED`] characters and the whole
/// clipped to [`MAX_MESSAGE`]: a 50 MB scalar is never printed back whole.
pub fn clip_message(message: String) -> String {
    if message.len() <= MAX_QUOTED {
        return message;
    }
    let clipped: Vec<String> = message
        .split('`')
        .enumerate()
        .map(|(i, part)| match i % 2 {
            1 => clip(part),
            _ => part.to_owned(),
        })
        .collect();
    clip_to(&clipped.join("`"), MAX_MESSAGE)
}

/// Finds likely typos with bounded work: at most `budget` suggestions per run, each comparing
/// at most 128 candidates of a similar length. A manifest with thousands of
/// misspelled names costs a hundred suggestions, not thousands times thousands of comparisons.
#[derive(Debug)]
pub struct Suggester {
    budget: usize,
}

impl Suggester {
    /// Suggestions a validation run computes before it stops suggesting.
    pub const DEFAULT_BUDGET: usize = 100;

    /// A suggester that answers at most `budget` times.
    pub fn new(budget: usize) -> Self {
        Self { budget }
    }

    /// The closest candidate (see [`closest`]), or `None` once the budget is spent.
    pub fn closest<'a>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        self.budget = self.budget.checked_sub(1)?;
        closest(word, candidates)
    }
}

impl Default for Suggester {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BUDGET)
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo
/// (at most a third of the word's length, and at least two edits allowed). Ignoring case.
/// Candidates whose length differs by more than that are skipped without comparing, and at
/// most 128 of the others are compared.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > MAX_WORD * 4 {
        return None;
    }
    let word: Vec<char> = word.to_lowercase().chars().collect();
    if word.len() > MAX_WORD {
        return None;
    }
    let limit = (word.len() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    let mut compared = 0;
    for c in candidates.into_iter().take(MAX_SCANNED) {
        // Cheap length tests first: the distance is at least the difference in length, and a
        // character takes one to four bytes.
        if c.len() + limit < word.len() || c.len() > (word.len() + limit) * 4 {
            continue;
        }
        if c.chars().count().abs_diff(word.len()) > limit {
            continue;
        }
        let other: Vec<char> = c.to_lowercase().chars().collect();
        let bound = best.map_or(limit, |(d, _)| d.saturating_sub(1));
        if let Some(d) = bounded_distance(&word, &other, bound) {
            best = Some((d, c));
        }
        compared += 1;
        if compared == MAX_COMPARED || best.is_some_and(|(d, _)| d == 0) {
            break;
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    bounded_distance(&a, &b, usize::MAX).unwrap_or(usize::MAX)
}

/// The edit distance of `a` and `b` if it is at most `bound`; stops as soon as every entry of
/// a row exceeds the bound (a row's minimum never decreases further down).
fn bounded_distance(a: &[char], b: &[char], bound: usize) -> Option<usize> {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        let mut row_min = row[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
            row_min = row_min.min(next);
        }
        if row_min > bound {
            return None;
        }
    }
    Some(row[b.len()]).filter(|d| *d <= bound)
}

/// `a`, `b` or `c` as "`a`, `b`, `c`".
pub fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Like [`quoted_list`] for lists that come from a manifest: at most [`MAX_LISTED`] items, each
/// clipped, then how many more there are.
pub fn quoted_some<S: AsRef<str>>(items: &[S]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(MAX_LISTED)
        .map(|s| clip(s.as_ref()))
        .collect();
    let mut out = quoted_list(&shown);
    if items.len() > MAX_LISTED {
        out.push_str(&format!(" and {} more", items.len() - MAX_LISTED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = [
            "interval",
            "warn_after",
            "dead_after",
            "initial_dead",
            "links",
            "port",
        ];
        assert_eq!(closest("intervall", keys), Some("interval"));
        assert_eq!(closest("deadtime", keys), None);
        assert_eq!(closest("dead-after", keys), Some("dead_after"));
        assert_eq!(closest("prot", keys), Some("port"));
        assert_eq!(closest("zzz", keys), None);
        assert_eq!(closest("PORT", keys), Some("port"));
    }

    #[test]
    fn the_nearest_candidate_wins_whatever_its_place() {
        assert_eq!(
            closest("web-db1", ["web-dbxx", "web-db2", "web-db1x"]),
            Some("web-db2")
        );
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
        assert_eq!(bounded_distance(&['a'; 10], &['b'; 10], 3), None);
    }

    #[test]
    fn suggestions_stop_when_the_budget_is_spent() {
        let mut s = Suggester::new(2);
        assert_eq!(s.closest("alpah", ["alpha"]), Some("alpha"));
        assert_eq!(s.closest("alpah", ["alpha"]), Some("alpha"));
        assert_eq!(s.closest("alpah", ["alpha"]), None);
    }

    #[test]
    fn huge_words_and_candidates_are_not_compared() {
        let huge = "a".repeat(10_000);
        assert_eq!(closest(&huge, [huge.as_str()]), None);
        assert_eq!(closest("aaaa", [huge.as_str(), "aaab"]), Some("aaab"));
    }

    #[test]
    fn values_are_clipped_with_an_ellipsis() {
        assert_eq!(clip("short"), "short");
        let long = "x".repeat(100);
        assert_eq!(clip(&long), format!("{}…", "x".repeat(60)));
        let message = clip_message(format!("invalid name `{long}` here"));
        assert_eq!(message, format!("invalid name `{}…` here", "x".repeat(60)));
        assert!(clip_message("é".repeat(5000)).chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn lists_are_quoted_and_long_ones_cut() {
        assert_eq!(quoted_list(&["a", "b"]), "`a`, `b`");
        assert_eq!(quoted_list::<&str>(&[]), "(none)");
        let many: Vec<String> = (0..25).map(|i| format!("n{i}")).collect();
        let shown = quoted_some(&many);
        assert!(shown.starts_with("`n0`, `n1`"), "{shown}");
        assert!(shown.ends_with("`n9` and 15 more"), "{shown}");
    }
}
