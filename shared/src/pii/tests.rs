//! The PII corpora: kinds, near misses, user names and the obfuscation corpus.

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

#[derive(serde::Deserialize)]
struct ObfuscationCorpus {
    names: Vec<String>,
    refused: Vec<Positive>,
    accepted: Vec<String>,
}

/// The obfuscation corpus (`shared/vectors/pii_corpus.json`), scanned with the names of its user:
/// every variant refused with its kind, every coaching line accepted. Prints both rates (for
/// docs/reliability.md) and the failures before asserting 100 % / 100 %.
#[test]
fn obfuscation_corpus_is_refused_and_coaching_lines_pass() {
    let c: ObfuscationCorpus = serde_json::from_str(crate::vectors::PII_CORPUS).unwrap();
    assert!(c.refused.len() >= 100 && c.accepted.len() >= 200);
    let s = PiiScanner::with_names(c.names.iter().map(String::as_str));
    let mut missed = Vec::new();
    for p in &c.refused {
        match s.find(&p.text) {
            Some(m) if m.kind == p.kind => {}
            other => missed.push(format!("{:?} expected {:?}, got {:?}", p.text, p.kind, other.map(|m| m.kind))),
        }
    }
    let false_positives: Vec<String> = c
        .accepted
        .iter()
        .filter_map(|t| s.find(t).map(|m| format!("{t:?}: {:?} {:?}", m.kind, &t[m.start..m.end])))
        .collect();
    let refused = c.refused.len() - missed.len();
    let accepted = c.accepted.len() - false_positives.len();
    println!(
        "PII corpus: refused {refused}/{} obfuscated variants ({:.1} %), accepted {accepted}/{} coaching lines ({:.1} %)",
        c.refused.len(),
        100.0 * refused as f64 / c.refused.len() as f64,
        c.accepted.len(),
        100.0 * accepted as f64 / c.accepted.len() as f64,
    );
    assert!(
        missed.is_empty() && false_positives.is_empty(),
        "missed: {missed:#?}\nfalse positives: {false_positives:#?}"
    );
}

#[test]
fn offsets_point_into_the_original_text() {
    let t = "mail: ｊａｎｅ\u{200B}＠ｇｍａｉｌ．ｃｏｍ now";
    let m = find_pii(t).unwrap();
    assert_eq!((m.kind, &t[m.start..m.end]), (PiiKind::Email, "ｊａｎｅ\u{200B}＠ｇｍａｉｌ．ｃｏｍ"));
    let t = "ring 555 - 123 - 4567!";
    let m = find_pii(t).unwrap();
    assert_eq!(&t[m.start..m.end], "555 - 123 - 4567");
}

/// No input makes the scanner panic (a panic would be a 500 on the server): every prefix, suffix
/// and pairing of the corpus texts, with names, including cut-off escapes and brackets.
#[test]
fn never_panics_on_fragments() {
    let c: ObfuscationCorpus = serde_json::from_str(crate::vectors::PII_CORPUS).unwrap();
    let s = PiiScanner::with_names(c.names.iter().map(String::as_str));
    let texts: Vec<&str> =
        c.refused.iter().map(|p| p.text.as_str()).chain(c.accepted.iter().map(String::as_str)).collect();
    let extras =
        ["", " ", "@", "[", "(at", "&#6", "%4", "%40", "+", "+(", "(", ".", "..", "::", "é@", "@é", "\u{200B}"];
    for (k, t) in texts.iter().copied().chain(extras).enumerate() {
        for (i, _) in t.char_indices().chain(std::iter::once((t.len(), ' '))) {
            let _ = s.find(&t[..i]);
            let _ = s.find(&t[i..]);
            if k < c.refused.len() {
                let _ = s.find(&format!("{}é{}", &t[..i], &t[i..]));
            }
        }
    }
}

/// A long hostile input is scanned in linear time: prints the figure (no timed assertion).
#[test]
fn long_inputs_scan_in_linear_time() {
    let s = PiiScanner::with_names(["Jordan Smith", "jordan.smith@example.com", "usr_jordan_42"]);
    for unit in ["5 5 5 - ", "at dot [at] (dot) ", "GB82 WEST ", "1.2.3.", "x ", "é\u{200B}"] {
        let text = unit.repeat(20_000 / unit.len());
        let t0 = std::time::Instant::now();
        let _ = s.find(&text);
        println!("pii scan of {} bytes of {unit:?}: {:?}", text.len(), t0.elapsed());
    }
}

#[derive(serde::Deserialize)]
struct Fold {
    input: String,
    folded: String,
}

/// The fold (NFKD, marks and invisibles dropped, look-alikes unified) of the shared vectors: the
/// browser (with `browser-normalize`) must give the same text, see wasm-client/tests/vectors.rs.
#[test]
fn folds_match_the_shared_vectors() {
    let v: Vec<Fold> = serde_json::from_str(crate::vectors::FOLDS).unwrap();
    assert!(v.len() >= 15);
    for f in &v {
        assert_eq!(folded(&f.input), f.folded, "{:?}", f.input);
    }
}
