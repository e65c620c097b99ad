//! Numbers that identify a person: phone numbers, payment cards and SSN-like numbers, however the
//! digits are spaced, dashed, bracketed or spelled (`555 - 123 - 4567`, `5 5 5 1 2 3 4 5 6 7`,
//! `(555)123-4567`, `+44 20 7946 0958`, `five five five one two three four five six seven`).
//!
//! The folded text becomes one byte per *atom* (a digit, a digit word, a separator or a letter);
//! dates and clock times are masked first. A *run* is a sequence of digit groups joined by short
//! separator runs (spaces, `-./:_()`, at most two non-space marks each); a comma followed by a space
//! ends a run (lists). Consecutive single digits (`5 5 5 1 2 …`) are read as one group unless they
//! look like a rep scheme (three distinct values or fewer, monotone, or steps of at most 2).
//!
//! A run is then classified, strongest evidence first (the checksums are those Presidio validates
//! its card and IBAN matches with):
//!
//! * **card**: 13–19 digits passing Luhn, solid, grouped by four or more, or digit by digit; or
//!   exactly four groups of four;
//! * **SSN**: `3-2-4` digits, or nine digits after `ssn` / `social security`;
//! * **phone**: `+` and 8–15 digits; seven or more digits spelled one by one; 10–15 digits, solid
//!   or in up to six groups (later groups of 2+ digits, one of 4+; French pairs `06 12 34 56 78`)
//!   anywhere in the run; a local `555-1234`; or 7–15 digits after a context word (`call`,
//!   `phone`, `tel`, `mobile`, `whatsapp`, …).
//!
//! Workout lists are not numbers of a person: groups that all end in 0 (`400 800 1200 1600`), all
//! years, all multiples of 5 (weights), or three or more groups of the same short length that are
//! monotone or rise then fall (`135 185 225 185 135`) are never a phone number.

use super::PiiKind;
use super::fold::Folded;
use crate::unicode::{is_alphabetic, is_alphanumeric};

/// Spelled-out digits, read as digits.
const DIGIT_WORDS: &[&str] = &["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// Words that, just before a run of digits, make it a phone number (Presidio's context words).
const PHONE_CONTEXT: &[&str] = &[
    "call",
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "cellphone",
    "whatsapp",
    "sms",
    "text",
    "dial",
    "fax",
    "contact",
    "telegram",
    "viber",
];

/// Words that, just before nine digits, make them a social security number.
const SSN_CONTEXT: &[&str] = &["ssn", "social", "security", "sin"];

/// A masked date or time atom.
const MASK: u8 = 0;

/// The folded text as one byte per atom, with each atom's folded byte range.
struct Atoms {
    b: Vec<u8>,
    span: Vec<(usize, usize)>,
}

fn atoms(s: &str) -> Atoms {
    let mut a = Atoms { b: Vec::with_capacity(s.len()), span: Vec::with_capacity(s.len()) };
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c.is_ascii_alphabetic() {
            let end = s[i..].find(|c: char| !c.is_ascii_alphabetic()).map_or(s.len(), |k| i + k);
            let w = s[i..end].to_ascii_lowercase();
            if let Some(d) = DIGIT_WORDS.iter().position(|&x| x == w) {
                a.b.push(b'0' + d as u8);
                a.span.push((i, end));
            } else {
                for k in i..end {
                    a.b.push(b'a');
                    a.span.push((k, k + 1));
                }
            }
            while it.peek().is_some_and(|&(k, _)| k < end) {
                it.next();
            }
            continue;
        }
        let atom = match c {
            '0'..='9' | ' ' | '-' | '.' | '/' | ':' | ',' | '_' | '+' | '*' | '~' | '|' | '\\' | '(' | ')' => c as u8,
            '[' | '{' => b'(',
            ']' | '}' => b')',
            c if is_alphabetic(c) => b'a',
            _ => b'?',
        };
        a.b.push(atom);
        a.span.push((i, i + c.len_utf8()));
    }
    a
}

/// Replaces dates (`2026-11-25`, `25/11/2026`, `11.25.26`) and clock times (`12:30`, `1:45:30`)
/// with [`MASK`] so their digits are not read as a number.
fn mask_dates_and_times(b: &mut [u8]) {
    let n = b.len();
    let digits_at = |b: &[u8], i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = 0;
    while i < n {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let mut groups = vec![(i, digits_at(b, i))];
        let mut seps = Vec::new();
        let mut j = i + groups[0].1;
        while j + 1 < n && b"-/.:".contains(&b[j]) && b[j + 1].is_ascii_digit() && groups.len() < 3 {
            let g = digits_at(b, j + 1);
            seps.push(b[j]);
            groups.push((j + 1, g));
            j = j + 1 + g;
        }
        let lens: Vec<usize> = groups.iter().map(|g| g.1).collect();
        let val = |k: usize| -> u32 {
            let (s, l) = groups[k];
            std::str::from_utf8(&b[s..s + l]).ok().and_then(|v| v.parse().ok()).unwrap_or(u32::MAX)
        };
        let same_sep = seps.windows(2).all(|w| w[0] == w[1]);
        let is_time =
            !seps.is_empty() && seps.iter().all(|&c| c == b':') && lens[0] <= 2 && lens[1..].iter().all(|&l| l == 2);
        let ymd =
            matches!(lens.as_slice(), [4, 1 | 2, 1 | 2]) && (1..=12).contains(&val(1)) && (1..=31).contains(&val(2));
        let dmy = lens.len() == 3
            && lens[0] <= 2
            && lens[1] <= 2
            && (lens[2] == 2 || lens[2] == 4)
            && (1..=31).contains(&val(0))
            && (1..=31).contains(&val(1))
            && (val(0) <= 12 || val(1) <= 12);
        let is_date = groups.len() == 3 && same_sep && seps[0] != b':' && (ymd || dmy);
        if is_time || is_date {
            b[i..j].fill(MASK);
        }
        i = j.max(i + 1);
    }
}

fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn value(g: &[u8]) -> u64 {
    g.iter().take(18).fold(0, |v, d| v * 10 + u64::from(d - b'0'))
}

/// A rep scheme written digit by digit: `5 5 5 3 3 3`, `1 2 3 4 5 4 3 2 1`, `8 8 6 6 4 4`.
fn is_digit_scheme(v: &[u8]) -> bool {
    // how many different bytes (a set of marks, not a sort: smaller in the browser package)
    let mut seen = [false; 256];
    v.iter().for_each(|&b| seen[usize::from(b)] = true);
    let distinct = seen.iter().filter(|&&s| s).count();
    let up = v.windows(2).all(|w| w[0] <= w[1]);
    let down = v.windows(2).all(|w| w[0] >= w[1]);
    let small_steps = v.windows(2).all(|w| w[0].abs_diff(w[1]) <= 2);
    distinct <= 3 || up || down || small_steps
}

/// Workout numbers rather than a person's: see the module documentation.
fn is_list(groups: &[Group]) -> bool {
    let n = groups.len();
    if n < 2 {
        return false;
    }
    let vals: Vec<u64> = groups.iter().map(|g| value(&g.digits)).collect();
    let len0 = groups[0].digits.len();
    let same_len = groups.iter().all(|g| g.digits.len() == len0) && len0 <= 3;
    let up = vals.windows(2).all(|w| w[0] <= w[1]);
    let down = vals.windows(2).all(|w| w[0] >= w[1]);
    let peak = vals.iter().enumerate().max_by_key(|(_, v)| **v).map_or(0, |(k, _)| k);
    let rise_fall = vals[..=peak].windows(2).all(|w| w[0] <= w[1]) && vals[peak..].windows(2).all(|w| w[0] >= w[1]);
    groups.iter().all(|g| g.digits.len() >= 2 && g.digits.ends_with(b"0"))
        || groups.iter().all(|g| g.digits.len() == 4 && (g.digits.starts_with(b"19") || g.digits.starts_with(b"20")))
        || (n >= 3 && vals.iter().all(|v| v % 5 == 0))
        || (same_len && (n >= 4 || (n >= 3 && (up || down || rise_fall))))
}

/// A digit group after reading single digits together.
#[derive(Debug, Clone)]
struct Group {
    digits: Vec<u8>,
    /// How many single digits were read into this group (0: written as one group).
    singles: usize,
    /// The separator after this group (empty for the last).
    sep: Vec<u8>,
}

fn trimmed(sep: &[u8]) -> Vec<u8> {
    sep.iter().copied().filter(|&c| c != b' ').collect()
}

/// Reads runs of consecutive single digits as one group, unless they are a rep scheme.
fn merge_singles(groups: &[&[u8]], seps: &[&[u8]]) -> Vec<Group> {
    let sep_at = |k: usize| seps.get(k).copied().unwrap_or(b"");
    let light = |k: usize| !trimmed(sep_at(k)).iter().any(|c| b",:".contains(c));
    let mut out = Vec::new();
    let mut k = 0;
    while k < groups.len() {
        let mut e = k;
        while groups[e].len() == 1 && e + 1 < groups.len() && groups[e + 1].len() == 1 && light(e) {
            e += 1;
        }
        let vals: Vec<u8> = groups[k..=e].iter().map(|g| g[0]).collect();
        if e - k + 1 >= 3 && !is_digit_scheme(&vals) {
            out.push(Group { digits: vals, singles: e - k + 1, sep: sep_at(e).to_vec() });
            k = e + 1;
        } else {
            for (g, group) in groups.iter().enumerate().take(e + 1).skip(k) {
                out.push(Group { digits: group.to_vec(), singles: 0, sep: sep_at(g).to_vec() });
            }
            k = e + 1;
        }
    }
    out
}

/// The generic phone shape of a window of groups: 10–15 digits, solid, French pairs, or groups
/// whose later members have 2+ digits and one of which has 4+.
fn phone_shape(w: &[Group]) -> bool {
    let d: usize = w.iter().map(|g| g.digits.len()).sum();
    if !(10..=15).contains(&d) || w.len() > 6 {
        return false;
    }
    let lens: Vec<usize> = w.iter().map(|g| g.digits.len()).collect();
    if w.len() == 1 || (w.len() == 5 && lens.iter().all(|&l| l == 2) && w[0].digits[0] == b'0') {
        return true;
    }
    lens[1..].iter().all(|&l| l >= 2) && lens.iter().any(|&l| l >= 4) && !is_list(w)
}

struct Context {
    phone: bool,
    ssn: bool,
}

fn classify(plus: bool, raw: &[&[u8]], seps: &[&[u8]], ctx: &Context) -> Option<PiiKind> {
    let digits: Vec<u8> = raw.iter().flat_map(|g| g.iter().copied()).collect();
    let d = digits.len();
    let raw_lens: Vec<usize> = raw.iter().map(|g| g.len()).collect();
    let groups = merge_singles(raw, seps);
    let lens: Vec<usize> = groups.iter().map(|g| g.digits.len()).collect();
    let n = groups.len();
    let uniform = seps.windows(2).all(|w| trimmed(w[0]) == trimmed(w[1]));
    let all_singles = raw_lens.iter().all(|&l| l == 1);
    let numeric_list = is_list(&groups);
    if (13..=19).contains(&d) && luhn_ok(&digits) && (all_singles || !numeric_list) {
        let by_four = lens[..n - 1].iter().all(|&l| l >= 4);
        if n == 1 || by_four || all_singles {
            return Some(PiiKind::CardNumber);
        }
    }
    if raw_lens == [4, 4, 4, 4] && uniform && !numeric_list {
        return Some(PiiKind::CardNumber);
    }
    let dash_or_space = |s: &[u8]| matches!(trimmed(s).as_slice(), b"" | b"-");
    if lens == [3, 2, 4] && groups[..2].iter().all(|g| dash_or_space(&g.sep)) {
        return Some(PiiKind::Ssn);
    }
    if ctx.ssn && d == 9 && n <= 3 {
        return Some(PiiKind::Ssn);
    }
    if plus && (8..=15).contains(&d) {
        return Some(PiiKind::Phone);
    }
    if groups.iter().any(|g| g.singles >= 7) && (7..=15).contains(&d) {
        return Some(PiiKind::Phone);
    }
    for a in 0..n {
        for b in a + 1..=(a + 6).min(n) {
            if phone_shape(&groups[a..b]) {
                return Some(PiiKind::Phone);
            }
        }
    }
    let local = matches!(lens.as_slice(), [3, 4] | [4, 4]);
    if local && matches!(trimmed(&groups[0].sep).as_slice(), b"-" | b".") && !numeric_list {
        return Some(PiiKind::Phone);
    }
    if ctx.phone && (7..=15).contains(&d) && n <= 6 {
        return Some(PiiKind::Phone);
    }
    None
}

/// Whether one of `words` is among the last four words of `before`.
fn preceded_by(before: &str, words: &[&str]) -> bool {
    let lower = crate::unicode::lowercase(before);
    lower.split(|c: char| !is_alphanumeric(c)).filter(|w| !w.is_empty()).rev().take(4).any(|w| words.contains(&w))
}

/// Finds the first identifying number in the folded text: its kind and folded byte range.
pub(crate) fn find(f: &Folded) -> Option<(PiiKind, usize, usize)> {
    let Atoms { mut b, span } = atoms(&f.text);
    mask_dates_and_times(&mut b);
    let n = b.len();
    let is_sep = |c: u8| b" -./:,_*~|\\()".contains(&c);
    let mut i = 0;
    while i < n {
        let opens = |k: usize| b.get(k).is_some_and(|c| c.is_ascii_digit() || *c == b'(');
        let plus_start = b[i] == b'+' && (opens(i + 1) || (b.get(i + 1) == Some(&b' ') && opens(i + 2)));
        let paren_start = b[i] == b'(' && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !(b[i].is_ascii_digit() || plus_start || paren_start) {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i;
        while j < n && j - i < 3 && b"+ (".contains(&b[j]) && !b[j].is_ascii_digit() {
            j += 1;
        }
        let mut groups: Vec<&[u8]> = Vec::new();
        let mut seps: Vec<&[u8]> = Vec::new();
        let mut end = j;
        loop {
            let g_start = j;
            while j < n && b[j].is_ascii_digit() {
                j += 1;
            }
            if j == g_start {
                break;
            }
            groups.push(&b[g_start..j]);
            end = j;
            let s_start = j;
            while j < n && is_sep(b[j]) && j - s_start < 4 {
                j += 1;
            }
            let sep = &b[s_start..j];
            let marks = sep.iter().filter(|&&c| !b" ()".contains(&c)).count();
            let list_comma = sep.windows(2).any(|w| w == b", ");
            if sep.is_empty() || marks > 2 || list_comma || j >= n || !b[j].is_ascii_digit() {
                if sep.first() == Some(&b')') {
                    end = s_start + 1;
                }
                break;
            }
            seps.push(sep);
        }
        if !groups.is_empty() {
            // the words just before the run (a bounded window: the scan stays linear)
            let mut from = span[start].0.saturating_sub(48);
            while !f.text.is_char_boundary(from) {
                from += 1;
            }
            let before = &f.text[from..span[start].0];
            let ctx = Context { phone: preceded_by(before, PHONE_CONTEXT), ssn: preceded_by(before, SSN_CONTEXT) };
            if let Some(kind) = classify(b[start] == b'+', &groups, &seps, &ctx) {
                return Some((kind, span[start].0, span[end - 1].1));
            }
        }
        i = end.max(i + 1);
    }
    None
}
