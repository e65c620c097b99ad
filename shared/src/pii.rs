//! Detection of personally identifying information in free text.
//!
//! Nothing that identifies a person may reach a training field. The detector looks for:
//!
//! * **emails**: `local@domain.tld`;
//! * **phone numbers**: a leading `+` and 8–15 digits; or 10–15 digits in at most five groups
//!   (spaces, dashes, dots, parentheses between them) whose later groups have 2+ digits and whose
//!   last group has 4+ digits (or French-style pairs starting with 0); or a local `555-1234`;
//! * **card-like numbers**: 13–19 digits, solid or grouped;
//! * **SSN-like numbers**: `123-45-6789` / `123 45 6789`;
//! * **names and identifiers** from the user record, when given (see [`PiiScanner::with_names`]).
//!
//! Dates (`2026-11-25`, `25/11/2026`, `11.25.26`) and times (`12:30`, `1:45:30`) are masked before
//! digits are read, and counts such as `3x10 @ 135`, `5 5 5 5 5` or `135 185 225 275 315` do not
//! have the shape of a phone number, so workout talk passes. The corpus in
//! `shared/vectors/pii.json` holds both sides of the line.

/// What kind of PII was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A payment-card-like number.
    CardNumber,
    /// A social-security-like number.
    Ssn,
    /// A name (or id) from the user record.
    Name,
}

impl PiiKind {
    /// Human description used in error messages.
    pub fn describe(self) -> &'static str {
        match self {
            PiiKind::Email => "an email address",
            PiiKind::Phone => "a phone number",
            PiiKind::CardNumber => "a card number",
            PiiKind::Ssn => "a social security number",
            PiiKind::Name => "a personal name or identifier",
        }
    }
}

/// A finding: its kind and byte range in the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiiMatch {
    /// Kind of PII.
    pub kind: PiiKind,
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset past the end.
    pub end: usize,
}

/// Finds the first PII in `text` (no names: see [`PiiScanner`] for that).
pub fn find_pii(text: &str) -> Option<PiiMatch> {
    PiiScanner::default().find(text)
}

/// Common words that are also first names; a lone name token equal to one of these is not matched
/// (a user called Max must still be able to hear "max effort"). Full names always are.
const NAME_STOPWORDS: &[&str] = &[
    "max", "will", "mark", "grace", "hope", "joy", "bill", "rich", "sky", "ray", "dawn", "summer", "chase", "hunter",
    "pat", "rob", "sue", "jack", "drew", "lift", "press", "king", "young", "long", "strong", "power", "rose", "may",
    "june", "april", "august", "faith", "frank", "gene", "page", "reed", "dean", "miles", "rocky", "ace", "star",
    "sunny", "coach", "alice", "aiden",
];

/// A PII detector that also knows the names and identifiers of the user whose text it checks.
#[derive(Debug, Clone, Default)]
pub struct PiiScanner {
    /// Lowercase full names (two or more words), matched as phrases.
    full_names: Vec<String>,
    /// Name words (3+ letters, not stopwords), matched as capitalised whole words.
    name_words: Vec<String>,
    /// Identifiers matched verbatim (user id, email local part), 4+ characters.
    identifiers: Vec<String>,
}

impl PiiScanner {
    /// A scanner for text written about a user with these names (display name, email, id).
    pub fn with_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut s = Self::default();
        for raw in names {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            if let Some((local, _)) = raw.split_once('@') {
                if local.chars().count() >= 4 {
                    s.identifiers.push(local.to_lowercase());
                }
                continue;
            }
            let words: Vec<&str> = raw.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).collect();
            let is_plain_name = !raw.chars().any(|c| c.is_ascii_digit() || "_:.".contains(c));
            if is_plain_name {
                if words.len() >= 2 {
                    s.full_names.push(words.join(" ").to_lowercase());
                }
                for w in &words {
                    let lw = w.to_lowercase();
                    if w.chars().count() >= 3 && !NAME_STOPWORDS.contains(&lw.as_str()) {
                        s.name_words.push(lw);
                    }
                }
            } else if raw.chars().count() >= 4 {
                s.identifiers.push(raw.to_lowercase());
            }
        }
        s
    }

    /// Finds the first PII in `text`.
    pub fn find(&self, text: &str) -> Option<PiiMatch> {
        let mut found = find_email(text);
        for f in [find_numbers(text), self.find_names(text)].into_iter().flatten() {
            if found.is_none_or(|cur| f.start < cur.start) {
                found = Some(f);
            }
        }
        found
    }

    /// Whether `text` holds any PII.
    pub fn contains_pii(&self, text: &str) -> bool {
        self.find(text).is_some()
    }

    fn find_names(&self, text: &str) -> Option<PiiMatch> {
        let lower = text.to_lowercase();
        // Lowercasing can change byte lengths for some scripts; only use the offsets when it did not.
        let same_len = lower.len() == text.len();
        let mut best: Option<PiiMatch> = None;
        let mut consider = |start: usize, end: usize| {
            let (start, end) = if same_len { (start, end) } else { (0, text.len()) };
            if best.is_none_or(|b| start < b.start) {
                best = Some(PiiMatch { kind: PiiKind::Name, start, end });
            }
        };
        for phrase in self.full_names.iter().chain(&self.identifiers) {
            for (i, _) in lower.match_indices(phrase.as_str()) {
                if is_word_boundary(&lower, i, i + phrase.len()) {
                    consider(i, i + phrase.len());
                }
            }
        }
        for w in &self.name_words {
            for (i, _) in lower.match_indices(w.as_str()) {
                let capitalised = same_len && text[i..].chars().next().is_some_and(char::is_uppercase);
                if capitalised && is_word_boundary(&lower, i, i + w.len()) {
                    consider(i, i + w.len());
                }
            }
        }
        best
    }
}

fn is_word_boundary(s: &str, start: usize, end: usize) -> bool {
    let before = s[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
    let after = s[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
    before && after
}

fn find_email(text: &str) -> Option<PiiMatch> {
    let b = text.as_bytes();
    let local_char = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain_char = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'.';
    for (at, _) in text.match_indices('@') {
        let mut s = at;
        while s > 0 && local_char(b[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < b.len() && domain_char(b[e]) {
            e += 1;
        }
        let domain = text[at + 1..e].trim_end_matches('.');
        let labels: Vec<&str> = domain.split('.').collect();
        let tld_ok = labels.last().is_some_and(|t| t.len() >= 2 && t.bytes().all(|c| c.is_ascii_alphabetic()));
        if s < at && labels.len() >= 2 && labels.iter().all(|l| !l.is_empty()) && tld_ok {
            return Some(PiiMatch { kind: PiiKind::Email, start: s, end: at + 1 + domain.len() });
        }
    }
    None
}

/// Replaces dates and times with `_` (same byte length) so their digits are not read as numbers.
fn mask_dates_and_times(text: &str) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    let n = b.len();
    let digits_at = |b: &[u8], i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = 0;
    while i < n {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let g1 = digits_at(&b, i);
        let mut groups = vec![(i, g1)];
        let mut seps = Vec::new();
        let mut j = i + g1;
        while j + 1 < n && b"-/.:".contains(&b[j]) && b[j + 1].is_ascii_digit() && groups.len() < 3 {
            let g = digits_at(&b, j + 1);
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
        let is_date = groups.len() == 3
            && same_sep
            && seps[0] != b':'
            && ((lens == [4, 1, 1] || lens == [4, 2, 2] || lens == [4, 1, 2] || lens == [4, 2, 1])
                && (1..=12).contains(&val(1))
                && (1..=31).contains(&val(2))
                || (lens[0] <= 2 && lens[1] <= 2 && (lens[2] == 2 || lens[2] == 4))
                    && (1..=31).contains(&val(0))
                    && (1..=31).contains(&val(1))
                    && (val(0) <= 12 || val(1) <= 12));
        if is_time || is_date {
            for c in &mut b[i..j] {
                *c = b'_';
            }
        }
        i = j.max(i + 1);
    }
    b
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

/// Reads runs of digit groups and classifies them as phone, card or SSN.
fn find_numbers(text: &str) -> Option<PiiMatch> {
    let b = mask_dates_and_times(text);
    let n = b.len();
    let is_sep = |c: u8| b" -.()".contains(&c);
    let mut i = 0;
    while i < n {
        // A run starts at '+', '(' or a digit that does not continue a word or a decimal.
        let starts = (b[i] == b'+' || b[i] == b'(') && i + 1 < n && (b[i + 1].is_ascii_digit() || b[i + 1] == b'(')
            || b[i].is_ascii_digit();
        let continues_token = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if !starts || continues_token {
            i += 1;
            continue;
        }
        let start = i;
        let plus = b[i] == b'+';
        let mut j = i;
        while j < n && (b[j] == b'+' || b[j] == b'(') && j - i < 2 {
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
            // separator: up to 3 of ' -.()', with at most one of ' -.'
            let s_start = j;
            while j < n && is_sep(b[j]) && j - s_start < 3 {
                j += 1;
            }
            let sep = &b[s_start..j];
            let plain = sep.iter().filter(|c| b" -.".contains(c)).count();
            if sep.is_empty() || plain > 1 || j >= n || !b[j].is_ascii_digit() {
                // closing parenthesis directly after the last group belongs to the run
                if sep.first() == Some(&b')') {
                    end = s_start + 1;
                }
                break;
            }
            seps.push(sep);
        }
        let followed_by_word = end < n && (b[end].is_ascii_alphabetic() || b[end] == b'_');
        if !groups.is_empty()
            && !followed_by_word
            && let Some(kind) = classify(plus, &groups, &seps)
        {
            return Some(PiiMatch { kind, start, end });
        }
        i = end.max(i + 1);
    }
    None
}

fn classify(plus: bool, groups: &[&[u8]], seps: &[&[u8]]) -> Option<PiiKind> {
    let digits: Vec<u8> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let d = digits.len();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let uniform_sep = seps.windows(2).all(|w| w[0] == w[1]);
    if plus && (8..=15).contains(&d) {
        return Some(PiiKind::Phone);
    }
    if lens == [3, 2, 4] && uniform_sep && seps.iter().all(|s| *s == b"-" || *s == b" ") {
        return Some(PiiKind::Ssn);
    }
    if (13..=19).contains(&d) {
        let card_groups = groups.len() == 1 || (uniform_sep && lens[0] == 4 && lens.len() <= 5);
        if card_groups && (groups.len() > 1 || luhn_ok(&digits)) {
            return Some(PiiKind::CardNumber);
        }
    }
    if (10..=15).contains(&d) && groups.len() <= 5 {
        let later_ok = lens.iter().skip(1).all(|&l| l >= 2);
        let last = *lens.last().unwrap_or(&0);
        let french = lens.iter().all(|&l| l == 2) && groups[0][0] == b'0';
        if groups.len() == 1 || (later_ok && (last >= 4 || french)) {
            return Some(PiiKind::Phone);
        }
    }
    if lens == [3, 4] && (seps[0] == b"-" || seps[0] == b".") {
        return Some(PiiKind::Phone);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Corpus {
        positives: Vec<Positive>,
        negatives: Vec<String>,
        names: Vec<NameCase>,
    }

    #[derive(serde::Deserialize)]
    struct Positive {
        text: String,
        kind: PiiKind,
    }

    #[derive(serde::Deserialize)]
    struct NameCase {
        names: Vec<String>,
        text: String,
        pii: bool,
    }

    fn corpus() -> Corpus {
        serde_json::from_str(crate::vectors::PII).unwrap()
    }

    #[test]
    fn finds_every_positive_with_its_kind() {
        let c = corpus();
        assert!(c.positives.len() >= 20);
        for p in &c.positives {
            let m = find_pii(&p.text).unwrap_or_else(|| panic!("missed PII in {:?}", p.text));
            assert_eq!(m.kind, p.kind, "{:?} -> {:?}", p.text, &p.text[m.start..m.end]);
        }
    }

    #[test]
    fn passes_every_near_miss() {
        let c = corpus();
        assert!(c.negatives.len() >= 30);
        for t in &c.negatives {
            assert_eq!(find_pii(t), None, "false positive in {t:?}");
        }
    }

    #[test]
    fn names_from_the_user_record() {
        for case in corpus().names {
            let s = PiiScanner::with_names(case.names.iter().map(String::as_str));
            assert_eq!(s.contains_pii(&case.text), case.pii, "{:?} in {:?}", case.names, case.text);
        }
    }

    #[test]
    fn match_offsets_cover_the_finding() {
        let t = "mail me at jo.doe+gym@example.co.uk today";
        let m = find_pii(t).unwrap();
        assert_eq!(&t[m.start..m.end], "jo.doe+gym@example.co.uk");
        let t = "call (555) 123-4567 now";
        let m = find_pii(t).unwrap();
        assert_eq!(&t[m.start..m.end], "(555) 123-4567");
    }
}
