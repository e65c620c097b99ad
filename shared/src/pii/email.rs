//! Email addresses, however they are written: `jane.doe@gmail.com`, with spaces around `@` and
//! dots (`jane.doe @gmail.com`, `jane . doe @ gmail . com`), spelled out (`jane dot doe at gmail
//! dot com`), bracketed (`jane[at]gmail(dot)com`, `jane (at) gmail [.] com`), HTML/URL-escaped
//! (`&#64;`, `%40`), with non-ASCII local parts and domains (`josé@exämple.com`, `用户@例子.广告`).
//!
//! The folded text is read as tokens (words, `@`-forms, dot-forms); an address is a local part,
//! an `@`-form and two or more domain labels ending in an alphabetic top-level label. As in
//! Presidio's email recogniser, a pattern alone is weak evidence where the writing is loose, so
//! the looser forms must be corroborated:
//!
//! * a dot that was spaced or spelled (`gmail dot com`) needs a top-level label from
//!   [`KNOWN_TLDS`] (so `@ gym . Next set` is not an address);
//! * the bare word `at` (`jane at gmail.com`) needs one more sign: a separator or digit in the
//!   local part, a spelled/bracketed dot, a well-known mail provider, or a context word (`email`,
//!   `mail`, `contact`, …) in the text — so `the video at youtube.com` still passes.

use super::fold::Folded;
use crate::unicode::{is_alphabetic, is_alphanumeric, lowercase};

/// Top-level labels accepted after a spaced or spelled-out dot: the common generic ones and
/// country codes that are not also English words (`at`, `in`, `me`, `no`, `us`, … are left out).
const KNOWN_TLDS: &[&str] = &[
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "uk", "de", "fr", "es", "nl", "ru",
    "jp", "cn", "br", "au", "ca", "eu", "ch", "se", "dk", "fi", "pl", "pt", "mx", "ar", "ie", "nz", "za", "kr", "tr",
    "gr", "cz", "hu", "ro", "il", "sg", "hk", "tw", "ua", "cl", "ve", "pe", "vn", "th", "ph", "my", "id", "ae", "sa",
    "app", "dev", "xyz", "online", "site", "email", "mail", "tv", "fm", "cc", "ly", "gg", "uk.com",
];

/// Second-level labels of well-known mail providers (`jane at gmail.com`).
const MAIL_PROVIDERS: &[&str] = &[
    "gmail",
    "googlemail",
    "yahoo",
    "ymail",
    "hotmail",
    "outlook",
    "live",
    "msn",
    "icloud",
    "me",
    "mac",
    "aol",
    "proton",
    "protonmail",
    "pm",
    "gmx",
    "web",
    "mail",
    "yandex",
    "qq",
    "163",
    "126",
    "zoho",
    "fastmail",
    "tutanota",
    "hey",
    "comcast",
    "verizon",
    "att",
    "orange",
    "free",
    "laposte",
    "libero",
    "btinternet",
    "mailbox",
];

/// Words that, anywhere in the text, make a loosely written address credible (Presidio's
/// "context words").
const CONTEXT_WORDS: &[&str] = &["email", "e-mail", "mail", "mailto", "contact", "address", "inbox", "dm", "reach"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A run of word characters (letters, digits and `_%+-'`).
    Word,
    /// `@`, `[at]`, `&#64;` … (`strong`), or the bare word `at` (weak).
    At { strong: bool },
    /// `.`, `[dot]`, `(.)` (`strong`), or a spaced `.` / the word `dot` (weak).
    Dot { strong: bool },
    /// Anything else (spaces around `@`/dot forms are absorbed into them).
    Other,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Byte range in the folded text.
    pub start: usize,
    pub end: usize,
}

fn is_word_char(c: char) -> bool {
    is_alphanumeric(c) || "_%+-'".contains(c)
}

/// A bracketed `at`/`dot` at `i` (`[at]`, `( dot )`, `{.}`, `<@>`): its end and whether it is an at.
fn bracketed(s: &str, i: usize) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    let close = match b[i] {
        b'[' => b']',
        b'(' => b')',
        b'{' => b'}',
        b'<' => b'>',
        _ => return None,
    };
    let mut j = i + 1;
    let skip = |j: &mut usize| {
        while *j < b.len() && b[*j] == b' ' {
            *j += 1;
        }
    };
    skip(&mut j);
    let rest = &s[j..];
    let lower = |n: usize| rest.get(..n).map(str::to_ascii_lowercase);
    let (len, is_at) = if lower(2).as_deref() == Some("at") {
        (2, true)
    } else if lower(3).as_deref() == Some("dot") {
        (3, false)
    } else if rest.starts_with('@') {
        (1, true)
    } else if rest.starts_with('.') {
        (1, false)
    } else {
        return None;
    };
    j += len;
    skip(&mut j);
    (j < b.len() && b[j] == close).then_some((j + 1, is_at))
}

pub(crate) fn tokenize(s: &str) -> Vec<Token> {
    let mut raw: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().unwrap_or(' ');
        let escaped = ["&#64;", "%40", "&commat;"].into_iter().find(|e| s[i..].starts_with(e));
        let (kind, end) = if let Some((end, is_at)) = bracketed(s, i) {
            (if is_at { Kind::At { strong: true } } else { Kind::Dot { strong: true } }, end)
        } else if let Some(e) = escaped {
            (Kind::At { strong: true }, i + e.len())
        } else if c == '@' {
            (Kind::At { strong: true }, i + 1)
        } else if c == '.' {
            (Kind::Dot { strong: true }, i + 1)
        } else if is_word_char(c) {
            let mut end = s[i..].find(|c: char| !is_word_char(c)).map_or(s.len(), |k| i + k);
            if let Some(k) = s[i + c.len_utf8()..end].find("%40") {
                end = i + c.len_utf8() + k; // `jane%40gmail.com`: the escape is an @-form, not part of the word
            }
            let w = &s[i..end];
            let kind = if w.eq_ignore_ascii_case("at") {
                Kind::At { strong: false }
            } else if w.eq_ignore_ascii_case("dot") {
                Kind::Dot { strong: false }
            } else {
                Kind::Word
            };
            (kind, end)
        } else {
            (Kind::Other, i + c.len_utf8())
        };
        raw.push(Token { kind, start: i, end });
        i = end;
    }
    // Absorb the (single, after folding) spaces next to @- and dot-forms; a dot that had a
    // space next to it is weak.
    let is_form = |t: &Token| matches!(t.kind, Kind::At { .. } | Kind::Dot { .. });
    let mut out: Vec<Token> = Vec::with_capacity(raw.len());
    let mut spaced = false;
    for (k, t) in raw.iter().enumerate() {
        let is_space = t.kind == Kind::Other && &s[t.start..t.end] == " ";
        if is_space && (out.last().is_some_and(is_form) || raw.get(k + 1).is_some_and(is_form)) {
            if let Some(Token { kind: Kind::Dot { strong }, .. }) = out.last_mut() {
                *strong = false;
            }
            spaced = true;
            continue;
        }
        let mut t = *t;
        if let (Kind::Dot { .. }, true) = (t.kind, spaced) {
            t.kind = Kind::Dot { strong: false };
        }
        spaced = false;
        out.push(t);
    }
    out
}

fn is_label(w: &str) -> bool {
    !w.is_empty() && w.chars().all(|c| is_alphanumeric(c) || c == '-') && !w.starts_with('-') && !w.ends_with('-')
}

/// Finds the first email address in the folded text: its folded byte range.
pub(crate) fn find(f: &Folded) -> Option<(usize, usize)> {
    let s = f.text.as_str();
    let toks = tokenize(s);
    let lower = lowercase(s);
    let has_context = lower.split(|c: char| !is_alphanumeric(c) && c != '-').any(|w| CONTEXT_WORDS.contains(&w));
    let word = |k: usize| toks.get(k).filter(|t| t.kind == Kind::Word).map(|t| &s[t.start..t.end]);
    for (a, at) in toks.iter().enumerate() {
        let Kind::At { strong: strong_at } = at.kind else { continue };
        let Some(local) = a.checked_sub(1).and_then(word) else { continue };
        // local part: Word (Dot Word)*, leftwards
        let mut first = a - 1;
        let mut local_sep = local.chars().any(|c| c.is_ascii_digit() || "._+-".contains(c));
        while first >= 2 && matches!(toks[first - 1].kind, Kind::Dot { .. }) && word(first - 2).is_some() {
            first -= 2;
            local_sep = true;
        }
        // domain: Word (Dot Word)+, rightwards
        let mut labels: Vec<&str> = Vec::new();
        let mut all_strong = true;
        let mut spelled_dot = false;
        match word(a + 1) {
            Some(w) if is_label(w) => labels.push(w),
            _ => continue,
        }
        let mut last = a + 1;
        while let (Some(Kind::Dot { strong }), Some(w)) = (toks.get(last + 1).map(|t| t.kind), word(last + 2)) {
            if !is_label(w) {
                break;
            }
            all_strong &= strong;
            spelled_dot |= !strong || s[toks[last + 1].start..toks[last + 1].end].len() > 1;
            labels.push(w);
            last += 2;
        }
        // the address must end there: not glued to another address or word
        if toks.get(last + 1).is_some_and(|t| matches!(t.kind, Kind::At { .. })) {
            continue;
        }
        let Some(tld) = labels.last().map(|t| lowercase(t)) else { continue };
        if labels.len() < 2 || tld.chars().count() < 2 || !tld.chars().all(is_alphabetic) {
            continue;
        }
        if (!all_strong || !strong_at) && !KNOWN_TLDS.contains(&tld.as_str()) {
            continue;
        }
        if !strong_at {
            let provider = MAIL_PROVIDERS.contains(&lowercase(labels[labels.len() - 2]).as_str());
            if !(local_sep || spelled_dot || provider || has_context) {
                continue;
            }
        }
        return Some((toks[first].start, toks[last].end));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Option<String> {
        let f = Folded::new(t);
        find(&f).map(|(s, e)| f.text[s..e].to_string())
    }

    #[test]
    fn reads_the_loose_forms() {
        assert_eq!(found("mail me at jo.doe+gym@example.co.uk today").as_deref(), Some("jo.doe+gym@example.co.uk"));
        assert_eq!(found("jane dot doe at gmail dot com").as_deref(), Some("jane dot doe at gmail dot com"));
        assert_eq!(found("jane [at] gmail (dot) com").as_deref(), Some("jane [at] gmail (dot) com"));
        assert!(found("the video at youtube.com").is_none());
        assert!(found("You got this @ the last rep. Next set").is_none());
        assert!(found("3x10 @ 135. Rest").is_none());
    }
}
