//! The shared test vectors, checked in the browser through the JavaScript-facing API: the hashes,
//! cache keys, tones and PII verdicts the browser computes equal the server's.

#![cfg(target_arch = "wasm32")]

use coach_wasm::{anonymize_user_id, choose_tone, clip_cache_key, find_pii};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[derive(Deserialize)]
struct Hash {
    input: String,
    sha256: String,
}

#[wasm_bindgen_test]
fn hashes_equal_the_shared_vectors() {
    let v: Vec<Hash> = serde_json::from_str(coach_shared::vectors::HASHES).unwrap();
    for h in v {
        assert_eq!(anonymize_user_id(&h.input), h.sha256);
    }
}

#[derive(Deserialize)]
struct Key {
    parts: serde_json::Value,
    key: String,
}

#[wasm_bindgen_test]
fn cache_keys_equal_the_shared_vectors() {
    let v: Vec<Key> = serde_json::from_str(coach_shared::vectors::CACHE_KEYS).unwrap();
    for k in v {
        // through a real JS object, as the app passes it
        let js = js_sys::JSON::parse(&k.parts.to_string()).unwrap();
        assert_eq!(clip_cache_key(js).unwrap(), k.key);
    }
    assert!(clip_cache_key(JsValue::from_str("nope")).is_err());
}

#[derive(Deserialize)]
struct ToneCase {
    strain: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
    label: Option<String>,
    tone: String,
}

#[wasm_bindgen_test]
fn tones_equal_the_shared_vectors() {
    let v: Vec<ToneCase> = serde_json::from_str(coach_shared::vectors::TONES).unwrap();
    for t in v {
        assert_eq!(choose_tone(t.strain, t.tags.clone(), t.label.clone()), t.tone);
    }
}

#[derive(Deserialize)]
struct Pii {
    positives: Vec<Positive>,
    negatives: Vec<String>,
}

#[derive(Deserialize)]
struct Positive {
    text: String,
    kind: String,
}

#[wasm_bindgen_test]
fn pii_verdicts_equal_the_shared_vectors() {
    let v: Pii = serde_json::from_str(coach_shared::vectors::PII).unwrap();
    for p in v.positives {
        let found = find_pii(&p.text, None).unwrap();
        assert!(!found.is_null(), "missed {}", p.text);
        let kind = js_sys::Reflect::get(&found, &JsValue::from_str("kind")).unwrap();
        assert_eq!(kind.as_string().unwrap(), p.kind);
    }
    for n in v.negatives {
        assert!(find_pii(&n, None).unwrap().is_null(), "false positive {n}");
    }
    let named = find_pii("Great job Jordan Smith", Some(vec!["Jordan Smith".into()])).unwrap();
    assert!(!named.is_null());
}

#[derive(Deserialize)]
struct PiiCorpus {
    names: Vec<String>,
    refused: Vec<Positive>,
    accepted: Vec<String>,
}

/// The obfuscation corpus gives the browser the server's verdicts: every variant refused with its
/// kind, every coaching line accepted.
#[wasm_bindgen_test]
fn pii_corpus_verdicts_equal_the_shared_vectors() {
    let c: PiiCorpus = serde_json::from_str(coach_shared::vectors::PII_CORPUS).unwrap();
    for p in c.refused {
        let found = find_pii(&p.text, Some(c.names.clone())).unwrap();
        assert!(!found.is_null(), "missed {}", p.text);
        let kind = js_sys::Reflect::get(&found, &JsValue::from_str("kind")).unwrap();
        assert_eq!(kind.as_string().unwrap(), p.kind, "{}", p.text);
    }
    for t in c.accepted {
        assert!(find_pii(&t, Some(c.names.clone())).unwrap().is_null(), "false positive {t}");
    }
}

#[derive(Deserialize)]
struct Fold {
    input: String,
    folded: String,
}

/// The package takes NFC/NFKD from the browser (`browser-normalize`): the normalised cache-key text
/// and the PII fold equal the server's (`unicode-normalization`) on the shared vectors.
#[wasm_bindgen_test]
fn browser_normalization_equals_the_shared_vectors() {
    assert_eq!(coach_shared::unicode::SOURCE, "browser");
    #[derive(Deserialize)]
    struct Normalized {
        parts: coach_shared::ClipKeyParts,
        normalized: String,
    }
    let keys: Vec<Normalized> = serde_json::from_str(coach_shared::vectors::CACHE_KEYS).unwrap();
    for k in keys {
        assert_eq!(coach_shared::normalize_text(&k.parts.text), k.normalized, "{:?}", k.parts.text);
    }
    let folds: Vec<Fold> = serde_json::from_str(coach_shared::vectors::FOLDS).unwrap();
    assert!(folds.len() >= 15);
    for f in folds {
        assert_eq!(coach_shared::pii::folded(&f.input), f.folded, "{:?}", f.input);
    }
}

/// The package lowercases through the browser (`String.prototype.toLowerCase`, no case table in
/// the package): every character maps as Rust's `char::to_lowercase` maps it (the server's PII
/// scan), and strings as `str::to_lowercase` (final sigma included).
#[wasm_bindgen_test]
fn browser_lowercase_equals_rusts_for_every_character() {
    let mut differ = Vec::new();
    for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
        let mut got = String::new();
        coach_shared::unicode::lowercase_char(c, &mut |l| got.push(l));
        if got != c.to_lowercase().collect::<String>() {
            differ.push(c);
        }
    }
    assert!(
        differ.is_empty(),
        "{} characters lowercase differently: {:?}",
        differ.len(),
        &differ[..differ.len().min(20)]
    );
    for s in ["ΟΔΟΣ ΣΑΣ", "Σ", "AΣ.", "İstanbul", "ÅNGSTRÖM Ǆ ǅ", "ẞ STRASSE", "Ⅻ ⓐⒶ", "ΑΣ́Β", "plain ascii"]
    {
        assert_eq!(coach_shared::unicode::lowercase(s), s.to_lowercase(), "{s:?}");
    }
}

/// `Retry-After` is read without Rust's float parser in the package (`js::parse_f64`): it accepts
/// and rejects what `str::parse::<f64>` does, with the same value.
#[wasm_bindgen_test]
fn retry_after_parses_as_rusts_f64_parser() {
    let inputs = [
        "0",
        "5",
        "120",
        "1.5",
        "+2",
        "-3",
        "-0",
        ".5",
        "5.",
        "1e3",
        "1E-2",
        "2.5e+2",
        "1.e5",
        "1e400",
        "1e-400",
        "0.1",
        "123456789012345678901234567890",
        "9007199254740993",
        "inf",
        "+Infinity",
        "-INF",
        "NaN",
        "-nan",
        "",
        ".",
        "+",
        "-",
        "e5",
        ".e5",
        "1e",
        "1e+",
        "1.5.2",
        "0x10",
        "1_000",
        " 5",
        "5 ",
        "+-5",
        "1,5",
        "infinite",
        "Thu, 01 Jan 2037 00:00:00 GMT",
        "١٢",
    ];
    for s in inputs {
        let want = s.parse::<f64>().ok();
        let got = coach_wasm::js::parse_f64(s);
        match (want, got) {
            (Some(w), Some(g)) if w.is_nan() => assert!(g.is_nan(), "{s:?}: {g}"),
            (Some(w), Some(g)) => assert!(w.to_bits() == g.to_bits(), "{s:?}: {w} vs {g}"),
            (None, None) => {}
            _ => panic!("{s:?}: Rust {want:?}, package {got:?}"),
        }
    }
}

/// The PII scan's letter tests come from the browser's regular expressions (no property tables in
/// the package): for every character they say what `char`'s own methods say on the server.
#[wasm_bindgen_test]
fn browser_letter_classes_equal_rusts_for_every_character() {
    use coach_shared::unicode::{is_alphabetic, is_alphanumeric, is_uppercase};
    let mut differ = Vec::new();
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        if is_alphabetic(c) != c.is_alphabetic()
            || is_alphanumeric(c) != c.is_alphanumeric()
            || is_uppercase(c) != c.is_uppercase()
        {
            differ.push(c);
        }
    }
    assert!(differ.is_empty(), "{} characters differ: {:?}", differ.len(), &differ[..differ.len().min(20)]);
}
