//! The vocabulary: a byte-level BPE (Hugging Face `tokenizers`) trained offline on the responses,
//! plus added special tokens for the compact prompt.
//!
//! Sequence layout (one token per context field, no stray text):
//!
//! ```text
//! <ex:bench_press> <set:3> <strain:60-79> <sleep:6-8> <skip:no> <tag:working_set> … <sep>
//!   <tone:neutral> …BPE tokens of the response… <eos>
//! ```
//!
//! Everything before and including `<sep>` is the prompt; the tone token, the response and
//! `<eos>` are the target (the only tokens the loss is computed on). Exercise types seen often
//! enough get their own `<ex:…>` token; others use `<ex:other>`.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use coach_shared::Tone;
use coach_shared::tags::CONTEXT_TAGS;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, Tokenizer, TokenizerBuilder, TokenizerImpl};

use crate::data::CoachContext;

/// Padding (never a target).
pub const PAD: &str = "<pad>";
/// End of the response.
pub const EOS: &str = "<eos>";
/// End of the prompt.
pub const SEP: &str = "<sep>";
/// Exercise types without their own token.
pub const EX_OTHER: &str = "<ex:other>";
/// Set-number buckets.
pub const SET_BUCKETS: [&str; 5] = ["<set:1>", "<set:2>", "<set:3>", "<set:4-5>", "<set:6+>"];
/// Strain buckets; the 80 boundary is the tone threshold (`HIGH_STRAIN_THRESHOLD`).
pub const STRAIN_BUCKETS: [&str; 5] =
    ["<strain:0-39>", "<strain:40-59>", "<strain:60-79>", "<strain:80-89>", "<strain:90-100>"];
/// Sleep buckets (hours the night before).
pub const SLEEP_BUCKETS: [&str; 4] = ["<sleep:none>", "<sleep:0-5>", "<sleep:6-8>", "<sleep:9+>"];
/// Whether the set was skipped.
pub const SKIP_TOKENS: [&str; 2] = ["<skip:no>", "<skip:yes>"];

/// The tone token of a tone.
pub fn tone_token(t: Tone) -> String {
    format!("<tone:{}>", t.as_str())
}

/// The token of a context tag.
pub fn tag_token(tag: &str) -> String {
    format!("<tag:{tag}>")
}

/// The token of an exercise type with its own token.
pub fn exercise_token(ex: &str) -> String {
    format!("<ex:{}>", normalize_exercise(ex))
}

/// Exercise types are matched case-insensitively and without surrounding spaces.
pub fn normalize_exercise(ex: &str) -> String {
    ex.trim().to_ascii_lowercase()
}

/// Whether an exercise type may become a prompt token: a plain identifier, so free text (and with
/// it anything personal) never enters the vocabulary.
pub fn is_token_worthy_exercise(ex: &str) -> bool {
    let ex = normalize_exercise(ex);
    (2..=40).contains(&ex.len())
        && ex.starts_with(|c: char| c.is_ascii_lowercase())
        && ex.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Bucket index of a set number.
pub fn set_bucket(n: u32) -> usize {
    match n {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 | 5 => 3,
        _ => 4,
    }
}

/// Bucket index of a strain percentage.
pub fn strain_bucket(s: f64) -> usize {
    match s {
        s if s < 40.0 => 0,
        s if s < 60.0 => 1,
        s if s < 80.0 => 2,
        s if s < 90.0 => 3,
        _ => 4,
    }
}

/// Bucket index of sleep hours.
pub fn sleep_bucket(h: Option<f64>) -> usize {
    match h {
        None => 0,
        Some(h) if h < 6.0 => 1,
        Some(h) if h < 9.0 => 2,
        Some(_) => 3,
    }
}

/// The known tags of a context, deduplicated, in vocabulary order (the prompt's canonical order).
pub fn canonical_tags(tags: &[String]) -> Vec<usize> {
    let mut idx: Vec<usize> =
        tags.iter().filter_map(|t| CONTEXT_TAGS.iter().position(|k| *k == t.trim().to_ascii_lowercase())).collect();
    idx.sort_unstable();
    idx.dedup();
    idx
}

/// Every special token of a vocabulary whose own exercise tokens are `exercises`.
pub fn special_tokens(exercises: &[String]) -> Vec<String> {
    let mut v: Vec<String> = vec![PAD.into(), EOS.into(), SEP.into()];
    v.extend(Tone::ALL.iter().map(|t| tone_token(*t)));
    v.push(EX_OTHER.into());
    v.extend(exercises.iter().map(|e| exercise_token(e)));
    for set in [&SET_BUCKETS[..], &STRAIN_BUCKETS, &SLEEP_BUCKETS, &SKIP_TOKENS] {
        v.extend(set.iter().map(|s| s.to_string()));
    }
    v.extend(CONTEXT_TAGS.iter().map(|t| tag_token(t)));
    v
}

/// Ids of the fixed special tokens.
#[derive(Debug, Clone)]
pub struct SpecialIds {
    /// `<pad>`.
    pub pad: u32,
    /// `<eos>`.
    pub eos: u32,
    /// `<sep>`.
    pub sep: u32,
    /// Tone tokens in `Tone::ALL` order.
    pub tones: [u32; 3],
    /// `<ex:other>`.
    pub ex_other: u32,
    /// Set buckets.
    pub set: [u32; 5],
    /// Strain buckets.
    pub strain: [u32; 5],
    /// Sleep buckets.
    pub sleep: [u32; 4],
    /// Skip flag (no, yes).
    pub skip: [u32; 2],
    /// Tag tokens, aligned with `CONTEXT_TAGS`.
    pub tags: Vec<u32>,
}

/// The trained tokenizer with the prompt vocabulary resolved to ids.
pub struct CoachTokenizer {
    tok: Tokenizer,
    /// Special-token ids.
    pub ids: SpecialIds,
    /// Which ids are added special tokens (never produced inside a response).
    special: Vec<bool>,
    /// Exercise types with their own token.
    exercises: Vec<String>,
    /// Bytes of text each id stands for (byte-level BPE: one symbol per byte).
    token_bytes: Vec<u32>,
}

impl CoachTokenizer {
    /// Trains a byte-level BPE on `responses` so that the whole vocabulary (special tokens
    /// included) has at most `vocab_size` entries.
    pub fn train<S: AsRef<str> + Sync>(responses: &[S], exercises: &[String], vocab_size: usize) -> Result<Self> {
        let specials = special_tokens(exercises);
        if specials.len() + 256 >= vocab_size {
            bail!("vocab_size {vocab_size} leaves no room for BPE merges ({} special tokens)", specials.len());
        }
        let alphabet: HashSet<char> = ByteLevel::alphabet().into_iter().collect();
        let mut trainer = BpeTrainerBuilder::new()
            .show_progress(false)
            .vocab_size(vocab_size)
            .min_frequency(2)
            .initial_alphabet(alphabet)
            .special_tokens(specials.iter().map(|s| AddedToken::from(s.clone(), true)).collect())
            .build();
        let mut tok: TokenizerImpl<BPE, NormalizerWrapper, ByteLevel, PostProcessorWrapper, ByteLevelDecoder> =
            TokenizerBuilder::new()
                .with_model(BPE::default())
                .with_pre_tokenizer(Some(ByteLevel::new(false, true, true)))
                .with_decoder(Some(ByteLevelDecoder::default()))
                .build()
                .map_err(|e| anyhow!("tokenizer: {e}"))?;
        tok.train(&mut trainer, responses.iter().map(|s| s.as_ref())).map_err(|e| anyhow!("BPE training: {e}"))?;
        Self::from_tokenizer(Tokenizer::from(tok))
    }

    /// Loads a `tokenizer.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let tok = Tokenizer::from_file(path).map_err(|e| anyhow!("cannot load {}: {e}", path.display()))?;
        Self::from_tokenizer(tok)
    }

    /// Wraps a tokenizer, checking that every prompt token is in its vocabulary.
    pub fn from_tokenizer(tok: Tokenizer) -> Result<Self> {
        let id = |t: &str| tok.token_to_id(t).with_context(|| format!("the tokenizer lacks the special token {t}"));
        let arr = |set: &[&str]| set.iter().map(|t| id(t)).collect::<Result<Vec<u32>>>();
        let ids = SpecialIds {
            pad: id(PAD)?,
            eos: id(EOS)?,
            sep: id(SEP)?,
            tones: [id(&tone_token(Tone::ALL[0]))?, id(&tone_token(Tone::ALL[1]))?, id(&tone_token(Tone::ALL[2]))?],
            ex_other: id(EX_OTHER)?,
            set: arr(&SET_BUCKETS)?.try_into().expect("5"),
            strain: arr(&STRAIN_BUCKETS)?.try_into().expect("5"),
            sleep: arr(&SLEEP_BUCKETS)?.try_into().expect("4"),
            skip: arr(&SKIP_TOKENS)?.try_into().expect("2"),
            tags: CONTEXT_TAGS.iter().map(|t| id(&tag_token(t))).collect::<Result<_>>()?,
        };
        let size = tok.get_vocab_size(true);
        let mut special = vec![false; size];
        let mut exercises = Vec::new();
        for (id, added) in tok.get_added_tokens_decoder() {
            if added.special && (id as usize) < size {
                special[id as usize] = true;
                if let Some(ex) = added.content.strip_prefix("<ex:").and_then(|s| s.strip_suffix('>'))
                    && ex != "other"
                {
                    exercises.push(ex.to_string());
                }
            }
        }
        exercises.sort();
        let token_bytes = (0..size as u32)
            .map(
                |id| if special[id as usize] { 0 } else { tok.id_to_token(id).map_or(0, |t| t.chars().count() as u32) },
            )
            .collect();
        Ok(Self { tok, ids, special, exercises, token_bytes })
    }

    /// Writes `tokenizer.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.tok.save(path, false).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
    }

    /// Entries in the vocabulary (special tokens included).
    pub fn vocab_size(&self) -> usize {
        self.special.len()
    }

    /// Special tokens in the vocabulary.
    pub fn special_count(&self) -> usize {
        self.special.iter().filter(|s| **s).count()
    }

    /// Exercise types with their own token, sorted.
    pub fn exercises(&self) -> &[String] {
        &self.exercises
    }

    /// Whether `id` is a special (prompt or control) token.
    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    /// The tone token id of `tone`.
    pub fn tone_id(&self, tone: Tone) -> u32 {
        self.ids.tones[Tone::ALL.iter().position(|t| *t == tone).expect("known tone")]
    }

    /// The tone a tone token stands for.
    pub fn tone_of(&self, id: u32) -> Option<Tone> {
        self.ids.tones.iter().position(|t| *t == id).map(|i| Tone::ALL[i])
    }

    /// The prompt of a context, ending with `<sep>`.
    pub fn prompt_ids(&self, ctx: &CoachContext) -> Vec<u32> {
        let ids = &self.ids;
        let ex = self.tok.token_to_id(&exercise_token(&ctx.exercise_type)).unwrap_or(ids.ex_other);
        let mut v = vec![
            ex,
            ids.set[set_bucket(ctx.set_number)],
            ids.strain[strain_bucket(ctx.strain_percentage)],
            ids.sleep[sleep_bucket(ctx.sleep_hours)],
            ids.skip[usize::from(ctx.skip_reason.as_deref().is_some_and(|s| !s.trim().is_empty()))],
        ];
        v.extend(canonical_tags(&ctx.context_tags).into_iter().map(|i| ids.tags[i]));
        v.push(ids.sep);
        v
    }

    /// BPE tokens of a response and, for each, the byte offset where it ends in the text. `None`
    /// when the text spells a special token (such a record is skipped, never learned).
    pub fn encode_response(&self, text: &str) -> Result<Option<(Vec<u32>, Vec<usize>)>> {
        let enc = self.tok.encode_fast(text, false).map_err(|e| anyhow!("encode: {e}"))?;
        if enc.get_ids().iter().any(|&i| self.is_special(i)) {
            return Ok(None);
        }
        let mut end = 0usize;
        let ends = enc
            .get_ids()
            .iter()
            .map(|&id| {
                end += self.token_bytes.get(id as usize).copied().unwrap_or(0) as usize;
                end
            })
            .collect();
        Ok(Some((enc.get_ids().to_vec(), ends)))
    }

    /// The text of response tokens (special tokens dropped).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tok.decode(ids, true).map_err(|e| anyhow!("decode: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_tone_threshold() {
        assert_eq!(strain_bucket(79.9), 2);
        assert_eq!(strain_bucket(coach_shared::limits::HIGH_STRAIN_THRESHOLD), 3);
        assert_eq!(sleep_bucket(Some(5.5)), 1);
        assert_eq!(set_bucket(20), 4);
        assert!(is_token_worthy_exercise("Bench_Press"));
        assert!(!is_token_worthy_exercise("john's bench"));
    }

    #[test]
    fn trains_and_builds_prompts() {
        let lines: Vec<String> = (0..200).map(|i| format!("Nice set number {i}, keep the bar path tight.")).collect();
        let t = CoachTokenizer::train(&lines, &["bench_press".to_string()], 400).unwrap();
        assert!(t.vocab_size() <= 400);
        let ctx = CoachContext {
            exercise_type: "BENCH_PRESS".into(),
            set_number: 4,
            strain_percentage: 85.0,
            context_tags: vec!["warmup".into(), "high_strain".into(), "bogus".into(), "warmup".into()],
            ..Default::default()
        };
        let p = t.prompt_ids(&ctx);
        assert_eq!(p.len(), 5 + 2 + 1);
        assert_ne!(p[0], t.ids.ex_other);
        assert_eq!(*p.last().unwrap(), t.ids.sep);
        for text in ["Nice set, keep it tight.", "Überragend – 5×5 @ 100 kg! 💪"] {
            let (ids, ends) = t.encode_response(text).unwrap().unwrap();
            assert_eq!(t.decode(&ids).unwrap(), text);
            assert_eq!(*ends.last().unwrap(), text.len());
            assert!(ends.windows(2).all(|w| w[0] < w[1]));
        }
        assert!(t.encode_response("sneaky <sep> text").unwrap().is_none());
        assert_eq!(t.exercises(), ["bench_press"]);
    }
}
