//! Detection of personally identifying information in free text, written to survive obfuscation.
//!
//! Nothing that identifies a person may reach a training field, and the same check runs in the
//! browser (coach-wasm) and on the server (training intake, coach line compliance, the trainer).
//! Detection happens in two steps:
//!
//! 1. **normalise** ([`fold`]): NFKD compatibility forms unfolded (full-width, mathematical and
//!    circled characters), combining marks and invisible format characters (zero-width, soft
//!    hyphen, bidi controls, variation selectors) dropped, other scripts' digits read as ASCII,
//!    dash and dot look-alikes unified, runs of spaces folded;
//! 2. **recognise**, each recogniser in its own module, in the spirit of Microsoft Presidio's
//!    (a loose pattern, then a validation or context words before it counts):
//!    [`email`] (incl. spaced, bracketed and spelled-out `at`/`dot`, non-ASCII addresses),
//!    [`network`] (IPv4/IPv6), [`iban`] (mod-97), [`numbers`] (phones, Luhn-checked cards,
//!    SSN-like numbers; dates, times and workout notation such as `3 x 5 @ 80%`, `3x10 @ 135`,
//!    `135 185 225 275 315` pass) and [`names`] (the user's own names and identifiers).
//!
//! Findings are reported in byte offsets of the text as given. The corpora in
//! `shared/vectors/pii.json` (kinds and near misses) and `shared/vectors/pii_corpus.json`
//! (obfuscated variants that must be refused, ordinary coaching lines that must pass) hold both
//! sides of the line, for the native tests and the browser tests alike.

mod email;
mod fold;
mod iban;
mod names;
mod network;
mod numbers;

use fold::Folded;
use names::Names;

/// The text the recognisers read: `text` after undoing obfuscation (see [`fold`]). Exposed so the
/// shared vectors (`shared/vectors/folds.json`) can prove the browser folds like the server.
pub fn folded(text: &str) -> String {
    Folded::new(text).text
}

/// What kind of PII was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A payment-card-like number (Luhn-valid, or grouped 4-4-4-4).
    CardNumber,
    /// A social-security-like number.
    Ssn,
    /// An international bank account number (mod-97 valid).
    Iban,
    /// An IPv4 or IPv6 address.
    IpAddress,
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
            PiiKind::Iban => "a bank account number (IBAN)",
            PiiKind::IpAddress => "an IP address",
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

/// A PII detector that also knows the names and identifiers of the user whose text it checks.
#[derive(Debug, Clone, Default)]
pub struct PiiScanner {
    /// The user's names, folded (empty: only the kinds that need no user record).
    names: Names,
}

impl PiiScanner {
    /// A scanner for text written about a user with these names (display name, email, id).
    pub fn with_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut s = Self::default();
        for raw in names {
            s.names.add(raw);
        }
        s
    }

    /// Finds the first PII in `text` (the earliest start; on a tie, the order of [`PiiKind`]
    /// except that an IP address wins over the phone-like digits inside it).
    pub fn find(&self, text: &str) -> Option<PiiMatch> {
        let f = Folded::new(text);
        let found = [
            email::find(&f).map(|(s, e)| (PiiKind::Email, s, e)),
            network::find(&f).map(|(s, e)| (PiiKind::IpAddress, s, e)),
            iban::find(&f).map(|(s, e)| (PiiKind::Iban, s, e)),
            numbers::find(&f),
            self.names.find(&f).map(|(s, e)| (PiiKind::Name, s, e)),
        ];
        let (kind, s, e) = found.into_iter().flatten().min_by_key(|&(_, s, _)| s)?;
        let (start, end) = f.original_range(s, e);
        Some(PiiMatch { kind, start, end })
    }

    /// Whether `text` holds any PII.
    pub fn contains_pii(&self, text: &str) -> bool {
        self.find(text).is_some()
    }
}

#[cfg(test)]
mod tests;
