//! The two Unicode normalisations the shared rules need — NFC for cache keys, NFKD (plus "is this a
//! combining mark") for the PII fold — from one of two sources, chosen by a feature:
//!
//! * by default, the `unicode-normalization` crate (the server, native tests);
//! * with `browser-normalize`, the browser's own `String.prototype.normalize` and the
//!   `/\p{M}/u` property class through `js-sys`, so the wasm package ships no normalisation tables
//!   (they were the largest part of it, see docs/performance.md).
//!
//! Both sides must give the same answers: the shared vectors (`cache_keys.json`, `pii_corpus.json`,
//! `folds.json`) are checked natively and, through the package, in Chromium.

/// Unicode NFC of `text`.
pub fn nfc(text: &str) -> String {
    imp::nfc(text)
}

/// Calls `out` with each character of the NFKD decomposition of `c`.
pub fn nfkd_char(c: char, out: &mut impl FnMut(char)) {
    if c.is_ascii() {
        // ASCII is its own decomposition: no table (and no call into JS) for the common case
        out(c);
    } else {
        imp::nfkd_char(c, out)
    }
}

/// Whether `c` is a combining mark (General_Category M: Mn, Mc, Me).
pub fn is_combining_mark(c: char) -> bool {
    !c.is_ascii() && imp::is_combining_mark(c)
}

/// Where the normalisation comes from: `"unicode-normalization"` or `"browser"`.
pub const SOURCE: &str = imp::SOURCE;

#[cfg(not(feature = "browser-normalize"))]
mod imp {
    use unicode_normalization::UnicodeNormalization;

    pub const SOURCE: &str = "unicode-normalization";

    pub fn nfc(text: &str) -> String {
        text.nfc().collect()
    }

    pub fn nfkd_char(c: char, out: &mut impl FnMut(char)) {
        std::iter::once(c).nfkd().for_each(out)
    }

    pub fn is_combining_mark(c: char) -> bool {
        unicode_normalization::char::is_combining_mark(c)
    }
}

#[cfg(feature = "browser-normalize")]
mod imp {
    use js_sys::{JsString, RegExp};

    pub const SOURCE: &str = "browser";

    pub fn nfc(text: &str) -> String {
        if text.is_ascii() {
            return text.to_string();
        }
        normalize(text, "NFC")
    }

    pub fn nfkd_char(c: char, out: &mut impl FnMut(char)) {
        let mut buf = [0u8; 4];
        normalize(c.encode_utf8(&mut buf), "NFKD").chars().for_each(out)
    }

    pub fn is_combining_mark(c: char) -> bool {
        thread_local! {
            static MARK: RegExp = RegExp::new("^\\p{M}$", "u");
        }
        let mut buf = [0u8; 4];
        let s = c.encode_utf8(&mut buf);
        MARK.with(|m| m.test(s))
    }

    fn normalize(text: &str, form: &str) -> String {
        // `normalize` only throws for an unknown form; the forms above are fixed
        JsString::from(text).normalize(form).into()
    }
}
