//! International bank account numbers: country code, two check digits and the country's BBAN,
//! solid or grouped (`GB82 WEST 1234 5698 7654 32`, `de89-3704-0044-0532-0130-00`), in any case.
//! A candidate counts only with a known country code, that country's exact length, a BBAN that
//! is at least half digits, and the ISO 7064 mod-97 check — the validation Presidio's IBAN
//! recogniser applies — so ordinary words next to numbers (`HR 165 bpm …`) never qualify.

use super::fold::Folded;

/// IBAN length per country (the SWIFT IBAN registry).
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// ISO 7064 mod 97-10 over the rearranged IBAN (`chars` are uppercase ASCII alphanumerics).
fn mod97_ok(chars: &[u8]) -> bool {
    let mut r: u32 = 0;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        let v = if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c - b'A') + 10 };
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r == 1
}

/// Finds the first IBAN in the folded text: its folded byte range.
pub(crate) fn find(f: &Folded) -> Option<(usize, usize)> {
    let b = f.text.as_bytes();
    for start in 0..b.len() {
        if !b[start].is_ascii_alphabetic() || (start > 0 && b[start - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let cc = f.text.get(start..start + 2).map(str::to_ascii_uppercase);
        let Some(&(_, len)) = cc.and_then(|cc| LENGTHS.iter().find(|(c, _)| *c == cc)) else { continue };
        // collect alphanumerics, allowing one space or dash between groups
        let mut chars: Vec<u8> = Vec::with_capacity(len);
        let mut j = start;
        while j < b.len() && chars.len() < len {
            if b[j].is_ascii_alphanumeric() {
                chars.push(b[j].to_ascii_uppercase());
                j += 1;
            } else if b" -".contains(&b[j]) && j + 1 < b.len() && b[j + 1].is_ascii_alphanumeric() && j > start {
                j += 1;
            } else {
                break;
            }
        }
        let ends_cleanly = j >= b.len() || !b[j].is_ascii_alphanumeric();
        let bban_digits = chars.iter().skip(4).filter(|c| c.is_ascii_digit()).count();
        if chars.len() == len
            && ends_cleanly
            && chars[2].is_ascii_digit()
            && chars[3].is_ascii_digit()
            && bban_digits * 2 >= len - 4
            && mod97_ok(&chars)
        {
            return Some((start, j));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_the_check_digits() {
        let hit = |t: &str| find(&Folded::new(t)).is_some();
        assert!(hit("pay GB82 WEST 1234 5698 7654 32 please"));
        assert!(hit("de89370400440532013000"));
        assert!(!hit("pay GB83 WEST 1234 5698 7654 32 please"));
        assert!(!hit("HR 165 bpm then rest for 2 min"));
    }
}
