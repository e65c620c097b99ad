//! Audio bytes: fixing `espeak-ng`'s streamed WAV header, encoding PCM to MP3 (`rusty_mp3`, pure
//! Rust), and checking that bytes are real audio by decoding them (`symphonia`) on a budget
//! ([`decode`]), which also gives the exact duration. Every clip the store keeps and every
//! cloning sample passes [`inspect`] / [`inspect_with`].

mod decode;
mod vorbis_setup;

use rusty_mp3::{Mp3Encoder, Mp3EncoderConfig};

pub use decode::{
    AudioError, AudioInfo, BUDGET_RATE, DecodeBudget, MAX_CHANNELS, MAX_FRAMES_PER_PACKET, MAX_SAMPLE_RATE, inspect,
    inspect_with,
};
pub use vorbis_setup::CODEBOOK_BUDGET;

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

/// Whether `bytes` start like an MPEG audio stream (an ID3 tag or a frame sync).
pub fn looks_like_mp3(bytes: &[u8]) -> bool {
    bytes.starts_with(b"ID3") || (bytes.len() > 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

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
