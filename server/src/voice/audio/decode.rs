//! Decoding untrusted audio on a budget. The container's and codec's declared parameters are
//! checked before a decoder exists (sample rate ≤ [`MAX_SAMPLE_RATE`], channels ≤ [`MAX_CHANNELS`],
//! packet sizes ≤ [`MAX_FRAMES_PER_PACKET`], Vorbis codebooks within
//! [`super::vorbis_setup::CODEBOOK_BUDGET`]), the decoded frames are counted against
//! `max_secs × min(rate, 48 kHz)` and decoding stops the moment the count passes it (the file is
//! then refused as too long, never truncated and accepted), and only the first
//! `keep_mono_secs` seconds are kept, mixed to mono. Nothing is allocated from a size the file
//! declares: buffers grow with what is actually decoded.
//!
//! A FLAC file may declare any rate up to 655 350 Hz, and its CONSTANT subframes make 65 535
//! samples out of 14 bytes: 42 KB decode to ~196 M samples. Budgeting by frames (not by the
//! seconds a lying rate would give) and refusing rates above 96 kHz bounds both the memory and
//! the CPU time of one check.

use std::io::Cursor;

use bytes::Bytes;
use symphonia::core::codecs::audio::well_known::CODEC_ID_VORBIS;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::vorbis_setup;

/// Highest sample rate accepted (Hz); above it the file is refused before decoding.
pub const MAX_SAMPLE_RATE: u32 = 96_000;
/// Most channels accepted; above it the file is refused before decoding.
pub const MAX_CHANNELS: usize = 2;
/// The frame budget is `max_secs` at this rate at most: a 96 kHz file gets half the seconds, so
/// no file decodes more than `max_secs × 48 000` frames.
pub const BUDGET_RATE: u32 = 48_000;
/// Largest packet (frames) a stream may declare: decoders size their output buffer from it
/// (FLAC allows 65 535; an MP4 `lpcm` entry may claim 4 G).
pub const MAX_FRAMES_PER_PACKET: u64 = 1 << 18;
/// Packets that fail to decode before the first good one, beyond which the file is refused.
const MAX_LEADING_DECODE_ERRORS: u32 = 8;

/// What one check may spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeBudget {
    /// Longest audio accepted, in seconds at `min(rate, 48 kHz)` frames per second.
    pub max_secs: f64,
    /// Seconds of audio kept, mixed to mono, from the start (0: none). The local provider's pitch
    /// analysis reads 30 s per sample; ElevenLabs gets the file itself and needs none.
    pub keep_mono_secs: f64,
    /// The kept mono samples are averaged in runs of `rate / mono_rate_floor` (0: not at all), so
    /// they are kept at between this rate and twice it: the pitch analysis decimates the same way
    /// (30 s at 96 kHz would otherwise be 11 MiB per check).
    pub mono_rate_floor: u32,
}

/// What decoding found.
#[derive(Debug, Clone, Default)]
pub struct AudioInfo {
    /// Seconds of audio actually decoded.
    pub duration: f64,
    /// Sample rate of the first audio track.
    pub sample_rate: u32,
    /// Channels of the first audio track.
    pub channels: usize,
    /// The first `keep_mono_secs` of the samples mixed down to mono, when asked for.
    pub mono: Option<Vec<f32>>,
    /// The rate of `mono` (the sample rate divided by the averaging run).
    pub mono_rate: u32,
}

/// Why bytes are not usable audio.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    /// No container or codec we know recognises the bytes (text, random bytes, images).
    #[error("not recognised as audio")]
    Unrecognised,
    /// The container parsed but no audio could be decoded (header-only files, corrupt streams).
    #[error("contains no decodable audio ({0})")]
    NoAudio(String),
    /// The stream declares something beyond the limits (rate, channels, packet or codebook size).
    #[error("{0}")]
    Unsupported(String),
    /// More audio than the budget: decoding stopped at the limit.
    #[error("is longer than {max_secs} s (decoding stopped at the limit)")]
    TooLong {
        /// The budget's `max_secs`.
        max_secs: f64,
    },
}

/// Checks the declared parameters of the track before a decoder is made from them.
fn check_params(p: &AudioCodecParameters) -> Result<(), AudioError> {
    if let Some(rate) = p.sample_rate {
        check_rate(rate)?;
    }
    if let Some(ch) = &p.channels {
        check_channels(ch.count())?;
    }
    if let Some(n) = p.max_frames_per_packet
        && n > MAX_FRAMES_PER_PACKET
    {
        return Err(AudioError::Unsupported(format!(
            "declares packets of {n} frames (at most {MAX_FRAMES_PER_PACKET})"
        )));
    }
    if p.codec == CODEC_ID_VORBIS {
        vorbis_setup::check(p.extra_data.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

fn check_rate(rate: u32) -> Result<(), AudioError> {
    if rate > MAX_SAMPLE_RATE {
        return Err(AudioError::Unsupported(format!(
            "declares a sample rate of {rate} Hz (at most {MAX_SAMPLE_RATE} Hz)"
        )));
    }
    Ok(())
}

fn check_channels(n: usize) -> Result<(), AudioError> {
    if n > MAX_CHANNELS {
        return Err(AudioError::Unsupported(format!("has {n} channels (at most {MAX_CHANNELS})")));
    }
    Ok(())
}

/// Decodes `bytes` within `budget` and measures them. `hint` is a file extension such as `mp3`
/// or `wav` that speeds up probing; the content decides either way.
pub fn inspect_with(bytes: Bytes, hint: Option<&str>, budget: DecodeBudget) -> Result<AudioInfo, AudioError> {
    if bytes.starts_with(b"OggS") {
        // symphonia's Ogg reader sizes Vorbis codebooks while probing, before `check_params`
        vorbis_setup::precheck(&bytes)?;
    }
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), MediaSourceStreamOptions::default());
    let mut h = Hint::new();
    if let Some(ext) = hint {
        h.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&h, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|_| AudioError::Unrecognised)?;
    let track = format.default_track(TrackType::Audio).ok_or(AudioError::Unrecognised)?;
    let track_id = track.id;
    let params = track.codec_params.as_ref().and_then(|p| p.audio()).ok_or(AudioError::Unrecognised)?.clone();
    check_params(&params)?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::NoAudio(e.to_string()))?;
    let max_secs = budget.max_secs;
    let mut frames: u64 = 0;
    let mut secs = 0.0f64;
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut mono: Option<Vec<f32>> = (budget.keep_mono_secs > 0.0).then(Vec::new);
    let mut keep: Option<MonoKeeper> = None;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut decode_errors = 0u32;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A stream cut short ends where it was cut (what a player does).
            Err(SymError::IoError(_)) => break,
            Err(e) if frames == 0 => return Err(AudioError::NoAudio(e.to_string())),
            Err(_) => break,
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec = buf.spec();
                // A stream may change its parameters mid-way (MP3 frames each carry their own).
                check_rate(spec.rate())?;
                check_channels(spec.channels().count())?;
                rate = spec.rate();
                channels = spec.channels().count().max(1);
                let n = buf.frames();
                if n == 0 || rate == 0 {
                    continue;
                }
                frames += n as u64;
                secs += n as f64 / f64::from(rate);
                if secs > max_secs || frames as f64 > max_secs * f64::from(rate.min(BUDGET_RATE)) {
                    return Err(AudioError::TooLong { max_secs });
                }
                if let Some(m) = mono.as_mut() {
                    let k = keep.get_or_insert_with(|| MonoKeeper::new(rate, budget));
                    if m.len() < k.limit {
                        buf.copy_to_vec_interleaved(&mut interleaved);
                        for frame in interleaved.chunks(channels) {
                            k.push(m, frame.iter().sum::<f32>() / channels as f32);
                            if m.len() == k.limit {
                                break;
                            }
                        }
                    }
                }
            }
            Err(SymError::DecodeError(_)) => {
                decode_errors += 1;
                if decode_errors > MAX_LEADING_DECODE_ERRORS && frames == 0 {
                    return Err(AudioError::NoAudio("every packet failed to decode".into()));
                }
            }
            Err(e) => return Err(AudioError::NoAudio(e.to_string())),
        }
    }
    if frames == 0 || rate == 0 {
        return Err(AudioError::NoAudio("no audio frames".into()));
    }
    let mono_rate = keep.map_or(rate, |k| rate / k.run as u32);
    Ok(AudioInfo { duration: secs, sample_rate: rate, channels, mono, mono_rate })
}

/// Keeps the first seconds of mono samples, averaged in runs (set from the first decoded rate).
struct MonoKeeper {
    /// Samples averaged into one kept sample.
    run: usize,
    /// Kept samples at most.
    limit: usize,
    /// The run being summed, and its length.
    sum: f32,
    n: usize,
}

impl MonoKeeper {
    fn new(rate: u32, budget: DecodeBudget) -> Self {
        let run = rate.checked_div(budget.mono_rate_floor).unwrap_or(1).max(1) as usize;
        let limit = (budget.keep_mono_secs * f64::from(rate)) as usize / run;
        Self { run, limit, sum: 0.0, n: 0 }
    }

    fn push(&mut self, kept: &mut Vec<f32>, v: f32) {
        self.sum += v;
        self.n += 1;
        if self.n == self.run {
            kept.push(self.sum / self.run as f32);
            (self.sum, self.n) = (0.0, 0);
        }
    }
}

/// [`inspect_with`] for trusted-size callers: up to `max_secs`, and with `keep_mono` the first
/// [`crate::voice::pitch::MAX_SECS`] seconds in mono at the full rate (what the pitch analysis
/// reads).
pub fn inspect(bytes: Bytes, hint: Option<&str>, max_secs: f64, keep_mono: bool) -> Result<AudioInfo, AudioError> {
    let keep_mono_secs = if keep_mono { crate::voice::pitch::MAX_SECS as f64 } else { 0.0 };
    inspect_with(bytes, hint, DecodeBudget { max_secs, keep_mono_secs, mono_rate_floor: 0 })
}
