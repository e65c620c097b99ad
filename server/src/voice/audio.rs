//! Audio bytes: fixing `espeak-ng`'s streamed WAV header, encoding PCM to MP3 (`rusty_mp3`, pure
//! Rust), and checking that bytes are real audio by decoding them (`symphonia`), which also gives
//! the exact duration. Every clip the store keeps and every cloning sample passes [`inspect`].

use std::io::Cursor;

use bytes::Bytes;
use rusty_mp3::{Mp3Encoder, Mp3EncoderConfig};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

/// The PCM inside a WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavPcm {
    /// Channels.
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
    /// Byte range of the `data` chunk's samples (16-bit little-endian).
    pub data: std::ops::Range<usize>,
}

/// Rewrites the RIFF and `data` chunk sizes of a WAV written to a pipe (`espeak-ng --stdout` puts
/// placeholders there because it cannot seek back) to the real sizes, and returns where the PCM is.
/// Only 16-bit PCM is accepted.
pub fn patch_wav_sizes(wav: &mut [u8]) -> Result<WavPcm, String> {
    if wav.len() < 12 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE stream".into());
    }
    let riff_size = u32::try_from(wav.len() - 8).map_err(|_| "WAV larger than 4 GiB")?;
    wav[4..8].copy_from_slice(&riff_size.to_le_bytes());
    let mut pos = 12;
    let mut format: Option<(u16, u32, u16)> = None;
    while pos + 8 <= wav.len() {
        let id: [u8; 4] = wav[pos..pos + 4].try_into().expect("4 bytes");
        let size = u32::from_le_bytes(wav[pos + 4..pos + 8].try_into().expect("4 bytes")) as usize;
        let body = pos + 8;
        match &id {
            b"fmt " => {
                if size < 16 || body + 16 > wav.len() {
                    return Err("truncated fmt chunk".into());
                }
                let f = &wav[body..body + 16];
                let tag = u16::from_le_bytes([f[0], f[1]]);
                let channels = u16::from_le_bytes([f[2], f[3]]);
                let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
                let bits = u16::from_le_bytes([f[14], f[15]]);
                if tag != 1 || bits != 16 || channels == 0 || rate == 0 {
                    return Err(format!("unsupported WAV format (tag {tag}, {bits} bits, {channels} channels)"));
                }
                format = Some((channels, rate, bits));
                pos = body + size + (size & 1);
            }
            b"data" => {
                let (channels, sample_rate, _) = format.ok_or("data chunk before fmt chunk")?;
                // A streamed WAV's data runs to the end of the file, whatever the header says.
                let len = wav.len() - body;
                let len = len - len % (2 * channels as usize);
                wav[pos + 4..pos + 8].copy_from_slice(&(len as u32).to_le_bytes());
                return Ok(WavPcm { channels, sample_rate, data: body..body + len });
            }
            _ => pos = body.saturating_add(size + (size & 1)),
        }
    }
    Err("no data chunk".into())
}

/// Encodes 16-bit little-endian PCM to a constant-bitrate MP3 with a LAME Info tag (gapless).
pub fn encode_mp3(pcm_s16le: &[u8], channels: u16, sample_rate: u32, kbps: u32) -> Result<Vec<u8>, String> {
    let mut enc = Mp3Encoder::new(Mp3EncoderConfig { bitrate_kbps: kbps, vbr_quality: None });
    enc.push_pcm_s16le(pcm_s16le, channels, sample_rate).map_err(|e| format!("mp3 encoder: {e}"))?;
    enc.finish();
    let mut out = Vec::with_capacity(pcm_s16le.len() / 8);
    while let Ok(packet) = enc.next_packet() {
        out.extend_from_slice(&packet);
    }
    if out.is_empty() {
        return Err("mp3 encoder produced nothing".into());
    }
    Ok(out)
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
    /// The samples mixed down to mono, when asked for (pitch analysis of cloning samples).
    pub mono: Option<Vec<f32>>,
}

/// Why bytes are not usable audio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// No container or codec we know recognises the bytes (text, random bytes, images).
    #[error("not recognised as audio")]
    Unrecognised,
    /// The container parsed but no audio could be decoded (header-only files, corrupt streams).
    #[error("contains no decodable audio ({0})")]
    NoAudio(String),
}

/// Decodes `bytes` completely (up to `max_secs` of audio) and measures them. `hint` is a file
/// extension such as `mp3` or `wav` that speeds up probing; the content decides either way.
pub fn inspect(bytes: Bytes, hint: Option<&str>, max_secs: f64, keep_mono: bool) -> Result<AudioInfo, AudioError> {
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
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::NoAudio(e.to_string()))?;
    let mut frames: u64 = 0;
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut mono: Option<Vec<f32>> = keep_mono.then(Vec::new);
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
                rate = spec.rate();
                channels = spec.channels().count().max(1);
                frames += buf.frames() as u64;
                if let Some(m) = mono.as_mut() {
                    buf.copy_to_vec_interleaved(&mut interleaved);
                    m.extend(interleaved.chunks(channels).map(|c| c.iter().sum::<f32>() / channels as f32));
                }
                if rate > 0 && frames as f64 / f64::from(rate) > max_secs {
                    break;
                }
            }
            Err(SymError::DecodeError(_)) => {
                decode_errors += 1;
                if decode_errors > 8 && frames == 0 {
                    return Err(AudioError::NoAudio("every packet failed to decode".into()));
                }
            }
            Err(e) => return Err(AudioError::NoAudio(e.to_string())),
        }
    }
    if frames == 0 || rate == 0 {
        return Err(AudioError::NoAudio("no audio frames".into()));
    }
    Ok(AudioInfo { duration: frames as f64 / f64::from(rate), sample_rate: rate, channels, mono })
}

/// Whether `bytes` start like an MPEG audio stream (an ID3 tag or a frame sync).
pub fn looks_like_mp3(bytes: &[u8]) -> bool {
    bytes.starts_with(b"ID3") || (bytes.len() > 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit mono WAV with a streamed (placeholder-size) header, like `espeak-ng --stdout`.
    fn streamed_wav(samples: &[i16], rate: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&0x7fff_f024u32.to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * 2).to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&0x7fff_f000u32.to_le_bytes());
        for s in samples {
            v.extend_from_slice(&s.to_le_bytes());
        }
        v
    }

    fn tone(secs: f64, rate: u32) -> Vec<i16> {
        (0..(secs * f64::from(rate)) as usize)
            .map(|i| ((i as f64 * 220.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 8000.0) as i16)
            .collect()
    }

    #[test]
    fn patched_wav_reads_with_its_real_duration() {
        let mut wav = streamed_wav(&tone(1.5, 22050), 22050);
        let pcm = patch_wav_sizes(&mut wav).unwrap();
        assert_eq!((pcm.channels, pcm.sample_rate), (1, 22050));
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize, wav.len() - 8);
        let info = inspect(Bytes::from(wav), Some("wav"), 60.0, false).unwrap();
        assert!((info.duration - 1.5).abs() < 0.01, "{}", info.duration);
    }

    #[test]
    fn mp3_round_trip_keeps_the_duration() {
        let mut wav = streamed_wav(&tone(2.0, 22050), 22050);
        let pcm = patch_wav_sizes(&mut wav).unwrap();
        let mp3 = encode_mp3(&wav[pcm.data], 1, 22050, 48).unwrap();
        assert!(looks_like_mp3(&mp3));
        let info = inspect(Bytes::from(mp3), Some("mp3"), 60.0, false).unwrap();
        assert!((info.duration - 2.0).abs() < 0.06, "{}", info.duration);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(
            inspect(Bytes::from_static(b"hello, this is plain text, not audio at all"), None, 60.0, false).is_err()
        );
        let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert!(inspect(Bytes::from(noise), None, 60.0, false).is_err());
        let mut header_only = streamed_wav(&[], 22050);
        patch_wav_sizes(&mut header_only).unwrap();
        assert!(inspect(Bytes::from(header_only), Some("wav"), 60.0, false).is_err());
        assert!(patch_wav_sizes(&mut b"RIFF....WAVEjunk".to_vec()).is_err());
    }
}
