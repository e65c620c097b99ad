//! Normalisation before detection, so that obfuscated PII reads like plain PII.
//!
//! Every recogniser works on [`Folded`] text, never on the raw input:
//!
//! * Unicode compatibility forms are unfolded (NFKD, the compatibility half of NFKC): full-width
//!   `５５５` and `＠`, mathematical `𝟓`, circled `⑤`, ligatures and superscripts become plain
//!   characters;
//! * combining marks are dropped (`josé` → `jose`, keycap `5️⃣` → `5`, underlines `5̲`), and so are
//!   the invisible format characters of category Cf (zero-width space/joiners, soft hyphen, bidi
//!   controls, word joiner, BOM, tags), variation selectors and Hangul fillers;
//! * decimal digits of other scripts (Arabic-Indic `٥`, Devanagari `५`, …) become ASCII digits;
//! * dash look-alikes (`–`, `—`, `−`, `ー`, …) become `-`, dot look-alikes (`。`, `·`, `•`, `・`)
//!   become `.`, every space, control and line separator becomes one ASCII space, and runs of
//!   spaces fold to one.
//!
//! Case is kept (the name recogniser needs it); each folded byte remembers the byte range of the
//! original character it came from, so findings are reported in the caller's offsets.

use crate::unicode::{is_combining_mark, nfkd_char};

/// Text folded for detection, with the way back to the original's byte offsets.
#[derive(Debug, Clone)]
pub(crate) struct Folded {
    /// The folded text that the recognisers read.
    pub text: String,
    /// For each byte of `text`, the byte range of the original character it came from.
    origin: Vec<(usize, usize)>,
}

impl Folded {
    /// Folds `original` (see the module documentation).
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        for (s, c) in original.char_indices() {
            let range = (s, s + c.len_utf8());
            fold_char(c, &mut |d| {
                if d == ' ' && (text.is_empty() || text.ends_with(' ')) {
                    return;
                }
                text.push(d);
                origin.extend(std::iter::repeat_n(range, d.len_utf8()));
            });
        }
        Self { text, origin }
    }

    /// The original byte range behind the folded range `start..end` (`start < end`).
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        (self.origin[start].0, self.origin[end - 1].1)
    }
}

/// Calls `out` with the folded form of `c` (zero, one or more characters).
fn fold_char(c: char, out: &mut impl FnMut(char)) {
    if is_invisible(c) {
        return;
    }
    if c.is_control() || c.is_whitespace() {
        out(' ');
        return;
    }
    nfkd_char(c, &mut |d| {
        if !is_combining_mark(d) && !is_invisible(d) {
            out(map_look_alike(d));
        }
    });
}

/// Invisible characters: the format characters (Unicode category Cf), variation selectors, the
/// combining grapheme joiner and the Hangul/Khmer fillers that render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB
        | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Zeros of the decimal digit blocks (category Nd) that NFKD leaves alone.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50,
    0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50,
    0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0x104A0, 0x11066, 0x1E950,
];

fn map_look_alike(d: char) -> char {
    match d {
        c if c.is_whitespace() => ' ',
        '\u{2010}'..='\u{2015}'
        | '\u{2043}'
        | '\u{2212}'
        | '\u{2E3A}'
        | '\u{2E3B}'
        | '\u{30FC}'
        | '\u{FE58}'
        | '\u{FE63}'
        | '\u{FF0D}'
        | '\u{FF70}' => '-',
        '\u{00B7}' | '\u{2022}' | '\u{2219}' | '\u{3002}' | '\u{30FB}' | '\u{FF61}' | '\u{FF65}' => '.',
        c => {
            let v = c as u32;
            match DIGIT_ZEROS.iter().find(|&&z| (z..z + 10).contains(&v)) {
                Some(z) => char::from(b'0' + (v - z) as u8),
                None => c,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_obfuscations_and_maps_back() {
        let raw = "ｊａｎｅ\u{200B}＠ｇｍａｉｌ．ｃｏｍ  ５５５ – ١٢٣ josé";
        let f = Folded::new(raw);
        assert_eq!(f.text, "jane@gmail.com 555 - 123 jose");
        let at = f.text.find('@').unwrap();
        let (s, e) = f.original_range(at, at + 1);
        assert_eq!(&raw[s..e], "＠");
        let j = f.text.find("jose").unwrap();
        let (s, e) = f.original_range(j, j + 4);
        assert_eq!(&raw[s..e], "josé");
    }

    #[test]
    fn drops_marks_and_format_characters() {
        assert_eq!(Folded::new("5\u{FE0F}\u{20E3}5\u{0332}\u{00AD}5\u{202E}\u{2060}").text, "555");
    }
}
