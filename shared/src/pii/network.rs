//! IP addresses: dotted IPv4 (also defanged `10[.]0[.]0[.]1`, spaced or spelled-out dots) and
//! IPv6 (validated by the standard library's parser, as Presidio validates its pattern matches).

use std::net::Ipv6Addr;

use super::email::{Kind, Token, tokenize};
use super::fold::Folded;
use crate::unicode::is_alphanumeric;

fn octet(w: &str) -> bool {
    (1..=3).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit()) && w.parse::<u16>().is_ok_and(|v| v <= 255)
}

fn find_v4(s: &str, toks: &[Token]) -> Option<(usize, usize)> {
    let word = |k: usize| toks.get(k).filter(|t| t.kind == Kind::Word).map(|t| &s[t.start..t.end]);
    let dot = |k: usize| toks.get(k).is_some_and(|t| matches!(t.kind, Kind::Dot { .. }));
    for k in 0..toks.len() {
        let quad = (0..4).all(|n| word(k + 2 * n).is_some_and(octet)) && (0..3).all(|n| dot(k + 2 * n + 1));
        let glued_before = k >= 2 && dot(k - 1) && word(k - 2).is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()));
        let glued_after =
            dot(k + 7) && word(k + 8).is_some_and(|w| w.bytes().next().is_some_and(|b| b.is_ascii_digit()));
        if quad && !glued_before && !glued_after {
            return Some((toks[k].start, toks[k + 6].end));
        }
    }
    None
}

fn find_v6(s: &str) -> Option<(usize, usize)> {
    let is_v6 = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
    let mut i = 0;
    while i < s.len() {
        let Some(off) = s[i..].find(is_v6) else { break };
        let start = i + off;
        let end = s[start..].find(|c: char| !is_v6(c)).map_or(s.len(), |k| start + k);
        let cand = s[start..end].trim_end_matches('.');
        let bounded = !s[..start].chars().next_back().is_some_and(is_alphanumeric)
            && !s[start + cand.len()..].chars().next().is_some_and(is_alphanumeric);
        let groups = cand.split(':').filter(|g| !g.is_empty()).count();
        if bounded && cand.matches(':').count() >= 2 && groups >= 3 && cand.parse::<Ipv6Addr>().is_ok() {
            return Some((start, start + cand.len()));
        }
        i = end.max(start + 1);
    }
    None
}

/// Finds the first IP address in the folded text: its folded byte range.
pub(crate) fn find(f: &Folded) -> Option<(usize, usize)> {
    let s = f.text.as_str();
    let v4 = find_v4(s, &tokenize(s));
    let v6 = find_v6(s);
    match (v4, v6) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}
