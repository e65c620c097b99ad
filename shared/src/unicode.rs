//! The two Unicode normalisations the shared rules need — NFC for cache keys, NFKD (plus "is this a
//! combining mark") for the PII fold — from one of two sources, chosen by a feature:
//!
//! * by default, the `unicode-normalization` crate (the server, native tests);
//! * with `browser-normalize`, the browser's own `String.prototype.normalize` and the
//!   `/\p{M}/u` property class through `js-sys`, so the wasm package ships no normalisation tables
//!   (they were the largest part of it, see docs/performance.md).
//!
//! Lowercasing (`str::to_lowercase`/`char::to_lowercase`, full Unicode mappings) goes the same way:
//! [`lowercase`] and [`lowercase_char`] use `String.prototype.toLowerCase` with
//! `browser-normalize`, so the package carries no case-mapping table either. ASCII stays in Rust.
//!
//! So do the letter tests of the PII scan ([`is_alphabetic`], [`is_alphanumeric`],
//! [`is_uppercase`]: `char`'s methods, or `/\p{Alphabetic}/u`, `/\p{N}/u` and `/\p{Uppercase}/u`),
//! whose property tables would otherwise be in the package.
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

/// The lowercase of `text`, as `str::to_lowercase` (full mappings, final sigma).
pub fn lowercase(text: &str) -> String {
    if text.is_ascii() { text.to_ascii_lowercase() } else { imp::lowercase(text) }
}

/// Calls `out` with each character of the lowercase mapping of `c`, as `char::to_lowercase`.
pub fn lowercase_char(c: char, out: &mut impl FnMut(char)) {
    if c.is_ascii() {
        out(c.to_ascii_lowercase());
    } else {
        imp::lowercase_char(c, out)
    }
}

/// `char::is_alphabetic` (the Alphabetic property).
pub fn is_alphabetic(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_alphabetic() } else { imp::test(imp::Class::Alphabetic, c) }
}

/// `char::is_alphanumeric` (Alphabetic, or General_Category N).
pub fn is_alphanumeric(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_alphanumeric() } else { imp::test(imp::Class::Alphanumeric, c) }
}

/// `char::is_uppercase` (the Uppercase property).
pub fn is_uppercase(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_uppercase() } else { imp::test(imp::Class::Uppercase, c) }
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

    pub fn lowercase(text: &str) -> String {
        text.to_lowercase()
    }

    pub enum Class {
        Alphabetic,
        Alphanumeric,
        Uppercase,
    }

    pub fn test(class: Class, c: char) -> bool {
        match class {
            Class::Alphabetic => c.is_alphabetic(),
            Class::Alphanumeric => c.is_alphanumeric(),
            Class::Uppercase => c.is_uppercase(),
        }
    }

    pub fn lowercase_char(c: char, out: &mut impl FnMut(char)) {
        c.to_lowercase().for_each(out)
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

    pub fn lowercase(text: &str) -> String {
        JsString::from(text).to_lower_case().into()
    }

    pub enum Class {
        Alphabetic,
        Alphanumeric,
        Uppercase,
    }

    pub fn test(class: Class, c: char) -> bool {
        thread_local! {
            static CLASSES: [RegExp; 3] = [
                RegExp::new("^\\p{Alphabetic}$", "u"),
                RegExp::new("^[\\p{Alphabetic}\\p{N}]$", "u"),
                RegExp::new("^\\p{Uppercase}$", "u"),
            ];
        }
        let mut buf = [0u8; 4];
        let s = c.encode_utf8(&mut buf);
        CLASSES.with(|r| r[class as usize].test(s))
    }

    pub fn lowercase_char(c: char, out: &mut impl FnMut(char)) {
        // one character alone: no final-sigma context, as `char::to_lowercase`
        let mut buf = [0u8; 4];
        lowercase(c.encode_utf8(&mut buf)).chars().for_each(out)
    }

    fn normalize(text: &str, form: &str) -> String {
        // `normalize` only throws for an unknown form; the forms above are fixed
        JsString::from(text).normalize(form).into()
    }
}
