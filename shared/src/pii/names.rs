//! The user's own names and identifiers (display name, email local part, user id), matched
//! case-insensitively in folded text, so accents, full-width letters and spacing do not hide
//! them: `JOSÉ`, `ｊｏｒｄａｎ`, `J o r d a n`, `jordan.smith`, `Jordan_Smith`, `JordanSmith`.
//!
//! * full names (two or more words) match as a phrase, glued together, or — when they have 8+
//!   letters — anywhere in the text's letters-and-digits skeleton;
//! * identifiers (user id, email local part) match in the skeleton (6+ characters) or as a word;
//! * single name words (3+ letters) match in any case, except that common words which are also
//!   names match only when capitalised ([`CAPITALISED_ONLY`]: Lee *Park* still may "park the
//!   bar"), and a few never match alone ([`NEVER_ALONE`]: a user called Max still hears "Max
//!   effort!").

use super::fold::Folded;
use crate::unicode::{is_alphabetic, is_alphanumeric, is_uppercase, lowercase, lowercase_char};

/// Common words that are also first names; a lone name token equal to one of these is not matched
/// (a user called Max must still be able to hear "max effort"). Full names always are.
const NEVER_ALONE: &[&str] = &[
    "max", "will", "mark", "grace", "hope", "joy", "bill", "rich", "sky", "ray", "dawn", "summer", "chase", "hunter",
    "pat", "rob", "sue", "jack", "drew", "lift", "press", "king", "young", "long", "strong", "power", "rose", "may",
    "june", "april", "august", "faith", "frank", "gene", "page", "reed", "dean", "miles", "rocky", "ace", "star",
    "sunny", "coach", "alice", "aiden",
];

/// Ordinary words that are also names: matched alone only when written with a capital.
const CAPITALISED_ONLY: &[&str] = &[
    "park", "bell", "hill", "wood", "woods", "stone", "cook", "baker", "walker", "mason", "field", "fields", "lane",
    "north", "west", "south", "east", "banks", "rice", "fox", "wolf", "bird", "cross", "rivers", "river", "lake",
    "moore", "bond", "price", "gold", "silver", "day", "knight", "love", "little", "small", "swift", "hart", "hunt",
    "ward", "wells", "gates", "burns", "lamb", "steel", "brown", "green", "white", "black", "gray", "grey", "rush",
    "guy", "art", "carol", "amber", "ruby", "iris", "jade", "pearl", "holly", "ivy", "lily", "daisy", "autumn", "rain",
    "storm", "sage", "brook", "cliff", "dale", "glen", "forest", "wade", "penny", "sandy", "buck", "duke", "earl",
    "major", "lance", "sonny", "victor", "hardy", "bolt", "block", "turner", "carter", "cole",
];

/// A word of the scanned text.
#[derive(Debug, Clone)]
struct Word {
    start: usize,
    end: usize,
    lower: String,
    capitalised: bool,
}

/// The names of one user, folded and lowercased.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    /// Full names (two or more words), as their words.
    full_names: Vec<Vec<String>>,
    /// Single name words (3+ letters, not in [`NEVER_ALONE`]) and whether any case matches.
    words: Vec<(String, bool)>,
    /// Letters-and-digits skeletons of identifiers (4+ characters).
    identifiers: Vec<String>,
}

fn skeleton(s: &str) -> String {
    let mut out = String::new();
    Folded::new(s).text.chars().filter(|&c| is_alphanumeric(c)).for_each(|c| lowercase_char(c, &mut |l| out.push(l)));
    out
}

impl Names {
    /// Adds one identifying string: a display name, an email address or an id.
    pub fn add(&mut self, raw: &str) {
        let raw = raw.trim();
        if let Some((local, _)) = raw.split_once('@') {
            self.add_identifier(local);
            return;
        }
        let folded = Folded::new(raw).text;
        let is_plain_name = !folded.chars().any(|c| c.is_ascii_digit() || "_:.".contains(c));
        if !is_plain_name {
            self.add_identifier(raw);
            return;
        }
        let words: Vec<String> =
            folded.split(|c: char| !is_alphabetic(c)).filter(|w| !w.is_empty()).map(lowercase).collect();
        for w in &words {
            if w.chars().count() >= 3 && !NEVER_ALONE.contains(&w.as_str()) {
                self.words.push((w.clone(), !CAPITALISED_ONLY.contains(&w.as_str())));
            }
        }
        if words.len() >= 2 {
            self.full_names.push(words);
        }
    }

    fn add_identifier(&mut self, raw: &str) {
        let sk = skeleton(raw);
        if sk.chars().count() >= 4 {
            self.identifiers.push(sk);
        }
    }

    /// Finds the first of these names in the folded text: its folded byte range.
    pub fn find(&self, f: &Folded) -> Option<(usize, usize)> {
        if self.full_names.is_empty() && self.words.is_empty() && self.identifiers.is_empty() {
            return None;
        }
        let s = f.text.as_str();
        let words = merge_spelled(s, words_of(s));
        let mut best: Option<(usize, usize)> = None;
        let mut consider = |r: (usize, usize)| {
            if best.is_none_or(|b| r.0 < b.0) {
                best = Some(r);
            }
        };
        for name in &self.full_names {
            let glued: String = name.concat();
            for k in 0..words.len() {
                let window = words.get(k..k + name.len());
                if window.is_some_and(|w| w.iter().zip(name).all(|(a, b)| a.lower == *b)) {
                    consider((words[k].start, words[k + name.len() - 1].end));
                }
                if words[k].lower == glued {
                    consider((words[k].start, words[k].end));
                }
            }
        }
        for w in &words {
            if self.words.iter().any(|(n, any_case)| *n == w.lower && (*any_case || w.capitalised)) {
                consider((w.start, w.end));
            }
        }
        let (sk, off) = skeleton_of(s);
        let long_full = self.full_names.iter().map(|n| n.concat()).filter(|g| g.chars().count() >= 8);
        let long_ids = self.identifiers.iter().filter(|i| i.chars().count() >= 6).cloned();
        for needle in long_full.chain(long_ids) {
            if let Some(i) = sk.find(needle.as_str()) {
                consider((off[i].0, off[i + needle.len() - 1].1));
            }
        }
        let alnum_words = alnum_words_of(s);
        for id in self.identifiers.iter().filter(|i| i.chars().count() < 6) {
            for (a, b, w) in &alnum_words {
                if w == id {
                    consider((*a, *b));
                }
            }
        }
        best
    }
}

/// Maximal runs of letters.
fn words_of(s: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
        match (is_alphabetic(c), start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                let w = &s[st..i];
                let capitalised = w.chars().next().is_some_and(is_uppercase);
                out.push(Word { start: st, end: i, lower: lowercase(w), capitalised });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Letters spelled one by one (`J o r d a n`, `j.o.r.d.a.n`) read as one word.
fn merge_spelled(s: &str, words: Vec<Word>) -> Vec<Word> {
    let single = |w: &Word| w.lower.chars().count() == 1;
    let close = |a: &Word, b: &Word| b.start - a.end <= 2 && s[a.end..b.start].chars().all(|c| " .-_*'".contains(c));
    let mut out: Vec<Word> = Vec::with_capacity(words.len());
    let mut k = 0;
    while k < words.len() {
        let mut e = k;
        while single(&words[e]) && e + 1 < words.len() && single(&words[e + 1]) && close(&words[e], &words[e + 1]) {
            e += 1;
        }
        if e - k >= 2 {
            let lower = words[k..=e].iter().map(|w| w.lower.as_str()).collect();
            out.push(Word { start: words[k].start, end: words[e].end, lower, capitalised: words[k].capitalised });
        } else {
            out.extend(words[k..=e].iter().cloned());
        }
        k = e + 1;
    }
    out
}

/// Maximal runs of letters and digits, lowercased, with their ranges.
fn alnum_words_of(s: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
        match (is_alphanumeric(c), start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                out.push((st, i, lowercase(&s[st..i])));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// The lowercase letters and digits of `s`, with each skeleton byte's folded range.
fn skeleton_of(s: &str) -> (String, Vec<(usize, usize)>) {
    let mut sk = String::new();
    let mut off = Vec::new();
    for (i, c) in s.char_indices().filter(|&(_, c)| is_alphanumeric(c)) {
        lowercase_char(c, &mut |l| {
            sk.push(l);
            off.extend(std::iter::repeat_n((i, i + c.len_utf8()), l.len_utf8()));
        });
    }
    (sk, off)
}
