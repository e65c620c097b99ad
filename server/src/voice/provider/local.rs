//! The local speech engine: Debian's `espeak-ng` run as a separate program per phrase (GPL-3, so it
//! is never linked), text on stdin (a text starting with `-` is not an option), WAV on stdout with
//! its streamed header fixed, encoded to MP3 in-process, measured by decoding.
//!
//! Voices: Alice `en-us+f3`, Aiden `en-us+m3`. Tones (see docs/api-voice.md):
//!
//! | tone | variant | pitch | rate (wpm) | amplitude |
//! |---|---|---|---|---|
//! | whisper | `+whisperf` (Alice) / `+whisper` (Aiden) | voice's | 150 | 120 |
//! | neutral | the voice's | voice's (50) | 175 | 100 |
//! | hype | the voice's | voice's + 25 | 200 | 130 |
//!
//! Variants come from an allowlist (an unknown one would silently fall back to the default voice)
//! and amplitude stays ≤ 130 (louder clips). A process that outlives the timeout is killed.
//!
//! "Cloning" here is honest pitch matching: the samples' median fundamental frequency picks the
//! female or male variant and the pitch closest to the speaker's. The voice id is
//! `en-us+f3@<pitch>~<tag>`, the tag 16 random hex digits drawn per clone: two users whose speech
//! lands on the same pitch (or on a personality's own voice) still get distinct voice ids, so the
//! private clips keyed by their voices are never shared between users, and deleting one user's
//! clips never touches another's. Nothing leaves the machine and no timbre is copied.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coach_shared::types::voice::ToneSettings;
use coach_shared::{Personality, Tone};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::{Audio, CloneRequest, ClonedVoice, ProviderError, SpeechProvider};
use crate::voice::audio;
use crate::voice::config::VoiceConfig;

/// Sample rate `espeak-ng` writes.
const RATE: u32 = 22050;
/// MP3 bitrate of local clips (kbit/s).
const KBPS: u32 = 48;
/// Largest WAV accepted from the engine (280 characters are ~25 s, ~1.1 MB).
const MAX_WAV_BYTES: usize = 16 * 1024 * 1024;
/// Variants this provider may ask for.
const VARIANTS: [&str; 4] = ["en-us+f3", "en-us+m3", "en-us+whisperf", "en-us+whisper"];
/// Median speaking pitch of the variants at `-p 50` (Hz), measured on this machine with
/// [`crate::voice::pitch::median_f0`] (the estimator used on cloning samples; docs/api-voice.md).
const F3_HZ: f64 = 207.0;
const M3_HZ: f64 = 105.0;
/// Measured: each step of `-p` multiplies the median pitch by about e^0.0086 (±30 steps ≈ ×1.3).
const PITCH_STEP_LOG: f64 = 0.0086;
/// Below this median pitch (Hz; the geometric middle of the two variants) the male variant fits.
const FEMALE_FROM_HZ: f64 = 147.0;

/// A local voice: the female or male variant at a pitch (0–99, 50 = the variant's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalVoice {
    /// Female (`f3`) or male (`m3`) variant.
    pub female: bool,
    /// `espeak-ng -p` value.
    pub pitch: u8,
}

impl LocalVoice {
    /// Parses `en-us+f3`, `en-us+m3`, optionally with `@<pitch>`, optionally followed by a cloned
    /// voice's `~<tag>` (1–32 lowercase hex digits; it changes the id, not the sound).
    pub fn parse(s: &str) -> Option<LocalVoice> {
        let s = match s.split_once('~') {
            Some((voice, tag)) if is_tag(tag) => voice,
            Some(_) => return None,
            None => s,
        };
        let (base, pitch) = match s.split_once('@') {
            Some((b, p)) if (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()) => {
                (b, p.parse::<u8>().ok()?)
            }
            Some(_) => return None,
            None => (s, 50),
        };
        let female = match base {
            "en-us+f3" => true,
            "en-us+m3" => false,
            _ => return None,
        };
        (pitch <= 99).then_some(LocalVoice { female, pitch })
    }

    /// The voice id.
    pub fn id(&self) -> String {
        let base = if self.female { "en-us+f3" } else { "en-us+m3" };
        if self.pitch == 50 { base.to_string() } else { format!("{base}@{}", self.pitch) }
    }

    /// The id of a cloned voice: this voice with a fresh random tag, unique to the clone.
    pub fn cloned_id(&self) -> String {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        format!("{}~{}", self.id(), &tag[..TAG_LEN])
    }

    /// The voice nearest to a speaker with median fundamental frequency `f0` (Hz).
    pub fn matching(f0: f64) -> LocalVoice {
        let female = f0 >= FEMALE_FROM_HZ;
        let base = if female { F3_HZ } else { M3_HZ };
        let pitch = (50.0 + (f0 / base).ln() / PITCH_STEP_LOG).round().clamp(0.0, 99.0) as u8;
        LocalVoice { female, pitch }
    }
}

/// Hex digits of the tag of a cloned voice id (64 random bits).
const TAG_LEN: usize = 16;

fn is_tag(tag: &str) -> bool {
    (1..=32).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The engine's parameters for one tone; its canonical string is part of the clip's cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakSettings {
    /// One of the allowlisted variants.
    pub variant: &'static str,
    /// `-p`, 0–99.
    pub pitch: u8,
    /// `-s`, words per minute.
    pub rate: u16,
    /// `-a`, ≤ 130.
    pub amplitude: u8,
}

impl EspeakSettings {
    /// The settings of `tone` for `voice`.
    pub fn for_tone(voice: LocalVoice, tone: Tone) -> Self {
        let plain = if voice.female { "en-us+f3" } else { "en-us+m3" };
        match tone {
            Tone::Whisper => EspeakSettings {
                variant: if voice.female { "en-us+whisperf" } else { "en-us+whisper" },
                pitch: voice.pitch,
                rate: 150,
                amplitude: 120,
            },
            Tone::Neutral => EspeakSettings { variant: plain, pitch: voice.pitch, rate: 175, amplitude: 100 },
            Tone::Hype => {
                EspeakSettings { variant: plain, pitch: (voice.pitch + 25).min(99), rate: 200, amplitude: 130 }
            }
        }
    }

    /// `variant=..;pitch=..;rate=..;amplitude=..`.
    pub fn canonical(&self) -> String {
        format!("variant={};pitch={};rate={};amplitude={}", self.variant, self.pitch, self.rate, self.amplitude)
    }

    /// Parses a canonical string, enforcing the allowlist and the ranges.
    pub fn parse(s: &str) -> Option<Self> {
        let mut out = EspeakSettings { variant: "", pitch: 50, rate: 175, amplitude: 100 };
        for part in s.split(';') {
            let (k, v) = part.split_once('=')?;
            match k {
                "variant" => out.variant = VARIANTS.iter().find(|x| **x == v)?,
                "pitch" => out.pitch = v.parse().ok().filter(|p| *p <= 99)?,
                "rate" => out.rate = v.parse().ok().filter(|r| (80..=450).contains(r))?,
                "amplitude" => out.amplitude = v.parse().ok().filter(|a| *a <= 130)?,
                _ => return None,
            }
        }
        (!out.variant.is_empty()).then_some(out)
    }
}

/// `espeak-ng` behind [`SpeechProvider`].
pub struct LocalProvider {
    bin: std::path::PathBuf,
    timeout: Duration,
    /// Bounds the processes running at once.
    slots: Arc<Semaphore>,
    /// `espeak-ng/<version>`: a new engine version changes the audio, so it is part of the key.
    model: String,
}

impl LocalProvider {
    /// Finds the engine's version (the provider still starts without the engine: synthesis then
    /// answers 503 and the readiness of everything else is unaffected).
    pub async fn new(config: &VoiceConfig) -> Self {
        let version = tokio::process::Command::new(&config.espeak_bin)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .output();
        let version = match tokio::time::timeout(Duration::from_secs(5), version).await {
            Ok(Ok(out)) if out.status.success() => parse_version(&String::from_utf8_lossy(&out.stdout)),
            _ => None,
        };
        if version.is_none() {
            tracing::warn!(bin = %config.espeak_bin.display(), "espeak-ng not found: local synthesis will answer 503");
        }
        Self {
            bin: config.espeak_bin.clone(),
            timeout: config.local_timeout,
            slots: Arc::new(Semaphore::new(config.local_concurrency.max(1))),
            model: format!("espeak-ng/{}", version.unwrap_or_else(|| "unknown".into())),
        }
    }

    async fn run(&self, text: &str, s: &EspeakSettings) -> Result<Vec<u8>, ProviderError> {
        let _slot = self.slots.acquire().await.map_err(|_| ProviderError::unavailable("engine shut down"))?;
        let mut child = tokio::process::Command::new(&self.bin)
            .args(["--stdout", "-v", s.variant])
            .args(["-p", &s.pitch.to_string(), "-s", &s.rate.to_string(), "-a", &s.amplitude.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ProviderError::unavailable(format!("cannot start {}: {e}", self.bin.display())))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let input = format!("{text}\n");
        let work = async {
            stdin.write_all(input.as_bytes()).await?;
            drop(stdin);
            let mut wav = Vec::with_capacity(256 * 1024);
            (&mut stdout).take(MAX_WAV_BYTES as u64 + 1).read_to_end(&mut wav).await?;
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((wav, status))
        };
        let result = tokio::time::timeout(self.timeout, work).await;
        match result {
            Ok(Ok((wav, status))) if status.success() && wav.len() <= MAX_WAV_BYTES => Ok(wav),
            Ok(Ok((wav, status))) => {
                Err(ProviderError::unavailable(format!("espeak-ng failed ({status}, {} bytes of output)", wav.len())))
            }
            Ok(Err(e)) => Err(ProviderError::unavailable(format!("espeak-ng i/o: {e}"))),
            Err(_) => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
                Err(ProviderError::unavailable(format!("espeak-ng timed out after {:?}", self.timeout)))
            }
        }
    }
}

fn parse_version(out: &str) -> Option<String> {
    // "eSpeak NG text-to-speech: 1.51  Data at: ..."
    let after = out.split("text-to-speech:").nth(1)?;
    let v = after.split_whitespace().next()?;
    v.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-').then(|| v.to_string())
}

/// Turns the engine's WAV into a measured MP3 clip.
pub fn wav_to_clip(mut wav: Vec<u8>) -> Result<Audio, ProviderError> {
    let pcm = audio::patch_wav_sizes(&mut wav).map_err(|e| ProviderError::unavailable(format!("espeak-ng: {e}")))?;
    if pcm.data.is_empty() {
        return Err(ProviderError::unavailable("espeak-ng produced no audio"));
    }
    let mp3 = audio::encode_mp3(&wav[pcm.data.clone()], pcm.channels, pcm.sample_rate, KBPS)
        .map_err(ProviderError::unavailable)?;
    let bytes = Bytes::from(mp3);
    let info = audio::inspect(bytes.clone(), Some("mp3"), 600.0, false)
        .map_err(|e| ProviderError::unavailable(format!("encoded clip does not decode: {e}")))?;
    Ok(Audio { bytes, content_type: "audio/mpeg", duration: info.duration })
}

impl SpeechProvider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn model(&self) -> String {
        self.model.clone()
    }

    fn format(&self) -> String {
        format!("mp3_{RATE}_{KBPS}")
    }

    fn personality_voice(&self, personality: Personality) -> String {
        LocalVoice { female: personality == Personality::Alice, pitch: 50 }.id()
    }

    fn owns_voice(&self, voice: &str) -> bool {
        LocalVoice::parse(voice).is_some()
    }

    fn tone_settings(&self, voice: &str) -> ToneSettings {
        let v = LocalVoice::parse(voice).unwrap_or(LocalVoice { female: true, pitch: 50 });
        ToneSettings {
            whisper: EspeakSettings::for_tone(v, Tone::Whisper).canonical(),
            neutral: EspeakSettings::for_tone(v, Tone::Neutral).canonical(),
            hype: EspeakSettings::for_tone(v, Tone::Hype).canonical(),
        }
    }

    fn synthesize<'a>(
        &'a self,
        text: &'a str,
        _voice: &'a str,
        _tone: Tone,
        settings: &'a str,
    ) -> BoxFuture<'a, Result<Audio, ProviderError>> {
        async move {
            let s = EspeakSettings::parse(settings)
                .ok_or_else(|| ProviderError::unavailable(format!("invalid local settings {settings:?}")))?;
            let wav = self.run(text, &s).await?;
            tokio::task::spawn_blocking(move || wav_to_clip(wav))
                .await
                .map_err(|e| ProviderError::unavailable(format!("encoder task: {e}")))?
        }
        .boxed()
    }

    fn clone_voice<'a>(&'a self, req: &'a CloneRequest) -> BoxFuture<'a, Result<ClonedVoice, ProviderError>> {
        async move {
            let mut f0s: Vec<f64> = req.samples.iter().filter_map(|s| s.median_f0).collect();
            if f0s.is_empty() {
                return Err(ProviderError::Rejected {
                    status: 400,
                    code: "no_voice_detected".into(),
                    message: "No voiced speech was found in the samples".into(),
                });
            }
            f0s.sort_by(f64::total_cmp);
            let f0 = f0s[f0s.len() / 2];
            Ok(ClonedVoice { voice_id: LocalVoice::matching(f0).cloned_id(), requires_verification: false })
        }
        .boxed()
    }

    fn delete_voice<'a>(&'a self, _voice_id: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        // A pitch-matched voice is only an id: nothing to remove.
        async { Ok(()) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_and_settings_round_trip() {
        for id in ["en-us+f3", "en-us+m3", "en-us+f3@62", "en-us+m3@0"] {
            assert_eq!(LocalVoice::parse(id).unwrap().id(), id);
        }
        for bad in [
            "en-us+f4",
            "en-us+f3@100",
            "en-us+f3@",
            "en-us+f3@x",
            "default",
            "en-us+f3@050",
            "en-us+f3~",
            "en-us+f3@62~XYZ",
            "en-us+f3@62~0123456789abcdef0123456789abcdef0",
            "en-us+f3~ab~cd",
        ] {
            assert!(LocalVoice::parse(bad).is_none(), "{bad}");
        }
        let v = LocalVoice { female: false, pitch: 44 };
        let (a, b) = (v.cloned_id(), v.cloned_id());
        assert_ne!(a, b, "every clone gets its own id");
        assert!(a.starts_with("en-us+m3@44~") && a.len() == "en-us+m3@44~".len() + TAG_LEN, "{a}");
        assert_eq!(LocalVoice::parse(&a), Some(v));
        let plain = LocalVoice { female: true, pitch: 50 }.cloned_id();
        assert_ne!(plain, "en-us+f3", "a clone never takes a personality's id");
        assert_eq!(LocalVoice::parse(&plain), Some(LocalVoice { female: true, pitch: 50 }));
        for tone in Tone::ALL {
            let s = EspeakSettings::for_tone(LocalVoice { female: false, pitch: 90 }, tone);
            assert!(s.amplitude <= 130 && s.pitch <= 99);
            assert_eq!(EspeakSettings::parse(&s.canonical()), Some(s));
        }
        assert!(EspeakSettings::parse("variant=en-us+klatt;pitch=50;rate=175;amplitude=100").is_none());
        assert!(EspeakSettings::parse("variant=en-us+f3;pitch=50;rate=175;amplitude=200").is_none());
    }

    #[test]
    fn pitch_matching_picks_variant_and_pitch() {
        assert_eq!(LocalVoice::matching(207.0), LocalVoice { female: true, pitch: 50 });
        assert_eq!(LocalVoice::matching(105.0), LocalVoice { female: false, pitch: 50 });
        assert_eq!(LocalVoice::matching(100.0), LocalVoice { female: false, pitch: 44 });
        assert!(LocalVoice::matching(400.0).female && LocalVoice::matching(400.0).pitch == 99);
        assert_eq!(parse_version("eSpeak NG text-to-speech: 1.51  Data at: /usr/lib"), Some("1.51".into()));
    }
}

#[cfg(test)]
mod engine_tests {
    use super::*;
    use crate::voice::{audio, pitch};

    async fn f0_of(p: &LocalProvider, variant: &'static str, pitch_param: u8) -> f64 {
        let s = EspeakSettings { variant, pitch: pitch_param, rate: 175, amplitude: 100 };
        let wav =
            p.run("Keep your back straight and push through the last rep, you are almost there.", &s).await.unwrap();
        let info = audio::inspect(Bytes::from(wav), Some("wav"), 60.0, true).unwrap();
        pitch::median_f0(info.mono.as_deref().unwrap(), info.sample_rate).unwrap()
    }

    /// Speech made by the engine at a known variant and pitch is matched back to it: the
    /// calibration constants hold on this machine's engine.
    #[tokio::test]
    async fn pitch_matching_recovers_the_engine_voice() {
        let p = LocalProvider::new(&VoiceConfig::default()).await;
        for (variant, pitch) in [("en-us+f3", 30u8), ("en-us+f3", 70), ("en-us+m3", 35), ("en-us+m3", 65)] {
            let got = LocalVoice::matching(f0_of(&p, variant, pitch).await);
            assert_eq!(got.female, variant == "en-us+f3", "{variant} p={pitch}: {got:?}");
            assert!(got.pitch.abs_diff(pitch) <= 6, "{variant} p={pitch}: matched {got:?}");
        }
    }
}
