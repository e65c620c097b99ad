//! The crafted-audio corpus: hostile cloning samples generated here, byte by byte (no downloaded
//! files), shared by the hostile-upload test (`voice_clone_hostile.rs`, every file refused with a
//! 4xx naming it) and the memory benchmark (`bench_audio.rs`, `cargo xtask bench audio`).
//!
//! Each file lies about something the decoder would otherwise trust: a sample rate or channel
//! count beyond the limits, a length in a header, a packet size, a codebook size, or it packs far
//! more decoded audio than its size suggests (FLAC constant subframes: 14 bytes give 65 535
//! samples; silent MP3 frames; Vorbis codebooks declared in a few bytes that expand to 16 MiB
//! each). The checksums (FLAC CRC-8/CRC-16, Ogg CRC-32) are computed with symphonia's own, so the
//! files get past the parsers and reach the decoder's budgets.
#![allow(dead_code)]

use symphonia::core::checksum::{Crc8Ccitt, Crc16Ansi, Crc32};
use symphonia::core::io::Monitor;

/// One hostile file.
pub struct Crafted {
    /// File name sent in the multipart part (the extension is a probe hint only).
    pub file_name: &'static str,
    /// The part's media type.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// What the file lies about (for the report).
    pub lie: &'static str,
    /// The validation code the server must answer for it.
    pub expect: &'static str,
}

/// The whole corpus.
pub fn corpus() -> Vec<Crafted> {
    let mut v = vec![
        c(
            "flac-655350hz-constant.flac",
            "audio/flac",
            flac(655_350, 1, 3000, 0),
            "STREAMINFO declares 655 350 Hz; 3000 constant frames (42 KB) decode to 196 M samples",
            "unsupported_audio",
        ),
        c(
            "flac-96khz-constant-bomb.flac",
            "audio/flac",
            flac(96_000, 2, 3000, 0),
            "96 kHz stereo, 3000 constant frames: 196 M frames (34 min) from 45 KB",
            "audio_too_long",
        ),
        c(
            "flac-16khz-constant-bomb.flac",
            "audio/flac",
            flac(16_000, 1, 3000, 0),
            "16 kHz mono constant frames: 3.4 h of audio from 42 KB",
            "audio_too_long",
        ),
        c("flac-8ch.flac", "audio/flac", flac(44_100, 8, 4, 0), "8 channels", "unsupported_audio"),
        c(
            "flac-length-lie.flac",
            "audio/flac",
            flac_with(16_000, 1, 1, 0x0F_FFFF_FFFF, 4000),
            "STREAMINFO declares 2^36 samples; one 4000-sample frame follows",
            "audio_too_short",
        ),
        c(
            "flac-frame-rate-lie.flac",
            "audio/flac",
            flac_frame_rate_lie(),
            "STREAMINFO 16 kHz, every frame header claims 655 350 Hz",
            "invalid_audio",
        ),
        c(
            "flac-truncated.flac",
            "audio/flac",
            truncated(flac(22_050, 1, 1, 0), 9),
            "first frame cut short",
            "invalid_audio",
        ),
        c("wav-192khz.wav", "audio/wav", wav(192_000, 1, 16, 0.5, None), "192 kHz sample rate", "unsupported_audio"),
        c("wav-6ch.wav", "audio/wav", wav(22_050, 6, 16, 0.5, None), "6 channels", "unsupported_audio"),
        c(
            "wav-size-lie.wav",
            "audio/wav",
            wav(16_000, 1, 16, 0.2, Some(0xFFFF_FFF0)),
            "data chunk and RIFF sizes declare 4 GiB; 0.2 s follows",
            "invalid_audio",
        ),
        c(
            "wav-8bit-too-long.wav",
            "audio/wav",
            wav(8_000, 1, 8, 301.0, None),
            "8-bit 8 kHz PCM, 301 s (the 300 s budget is hit while decoding)",
            "audio_too_long",
        ),
        c(
            "wav-header-only.wav",
            "audio/wav",
            wav(16_000, 1, 16, 0.0, Some(1 << 30)),
            "declares 1 GiB of data, has none",
            "invalid_audio",
        ),
        c(
            "mp3-silent-frames-bomb.mp3",
            "audio/mpeg",
            mp3_silence(13_000),
            "13 000 silent 96-byte MPEG-1 frames: 312 s at 48 kHz from 1.2 MB",
            "audio_too_long",
        ),
        c(
            "mp3-bogus-frames.mp3",
            "audio/mpeg",
            mp3_bogus(),
            "400 frame syncs with reserved fields, short frames and garbage (72 ms decode)",
            "audio_too_short",
        ),
        c("mp3-truncated.mp3", "audio/mpeg", truncated(mp3_silence(1), 40), "one frame cut in half", "invalid_audio"),
        c(
            "ogg-flac-655350hz.oga",
            "audio/ogg",
            ogg_flac(655_350, 1, 600),
            "Ogg FLAC, STREAMINFO 655 350 Hz, constant frames",
            "unsupported_audio",
        ),
        c(
            "ogg-flac-bomb.oga",
            "audio/ogg",
            ogg_flac(48_000, 1, 600),
            "Ogg FLAC, 48 kHz constant frames: 39 M samples from 14 KB",
            "audio_too_long",
        ),
        c(
            "ogg-vorbis-codebook-bomb.ogg",
            "audio/ogg",
            ogg_vorbis(22_050, 1, 64, 16),
            "Vorbis setup: 64 codebooks of 131 072 entries × 16 dimensions in 1.4 KB (8 MiB each when built)",
            "unsupported_audio",
        ),
        c(
            "ogg-vorbis-lookup-overflow.ogg",
            "audio/ogg",
            ogg_vorbis(22_050, 1, 1, 32),
            "Vorbis codebook of 32 dimensions: symphonia's Ogg reader overflows u32 (and panics) sizing its lookup",
            "unsupported_audio",
        ),
        c(
            "ogg-vorbis-6ch.ogg",
            "audio/ogg",
            ogg_vorbis_books(22_050, 6, 1, 8, 1, false),
            "Vorbis, 6 channels",
            "unsupported_audio",
        ),
        c(
            "ogg-vorbis-192khz.ogg",
            "audio/ogg",
            ogg_vorbis_books(192_000, 1, 1, 8, 1, false),
            "Vorbis, 192 kHz",
            "unsupported_audio",
        ),
        c(
            "ogg-truncated.ogg",
            "audio/ogg",
            ogg_vorbis_books(22_050, 1, 1, 8, 1, false)[..40].to_vec(),
            "first Ogg page cut short",
            "invalid_audio",
        ),
    ];
    v.sort_by_key(|c| c.file_name);
    v
}

fn c(
    file_name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
    lie: &'static str,
    expect: &'static str,
) -> Crafted {
    Crafted { file_name, content_type, bytes, lie, expect }
}

fn truncated(mut v: Vec<u8>, cut: usize) -> Vec<u8> {
    v.truncate(v.len() - cut);
    v
}

/// Big-endian (MSB-first) bit writer, as FLAC and MPEG audio are packed.
#[derive(Default)]
struct BitsMsb {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitsMsb {
    fn put(&mut self, bits: u32, value: u64) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    fn bytes(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put(pad, 0);
        }
        self.out
    }
}

/// Little-endian (LSB-first) bit writer, as Vorbis is packed.
#[derive(Default)]
struct BitsLsb {
    out: Vec<u8>,
    acc: u8,
    n: u32,
}

impl BitsLsb {
    fn put(&mut self, bits: u32, value: u64) {
        for i in 0..bits {
            self.acc |= (((value >> i) & 1) as u8) << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    fn bytes(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc);
            self.n = 0;
        }
        self.out
    }
}

const FLAC_BLOCK: u64 = 65_535;

/// A native FLAC stream: STREAMINFO (`rate`, `channels`, 16 bit, `total` samples, 0 = unknown)
/// and `frames` frames of 65 535 samples whose subframes are all CONSTANT (three bytes each):
/// `flac(655_350, 1, 3000, 0)` is the 42 KB file of ~196 M samples.
pub fn flac(rate: u32, channels: u32, frames: u32, total: u64) -> Vec<u8> {
    flac_with(rate, channels, frames, total, FLAC_BLOCK as u32)
}

fn flac_with(rate: u32, channels: u32, frames: u32, total: u64, block: u32) -> Vec<u8> {
    let mut v = b"fLaC".to_vec();
    v.extend(flac_streaminfo(rate, channels, total, true));
    for i in 0..frames {
        v.extend(flac_frame(i, channels, block, None));
    }
    v
}

/// The STREAMINFO metadata block (with its header).
fn flac_streaminfo(rate: u32, channels: u32, total: u64, last: bool) -> Vec<u8> {
    let mut b = BitsMsb::default();
    b.put(1, u64::from(last));
    b.put(7, 0); // STREAMINFO
    b.put(24, 34);
    b.put(16, FLAC_BLOCK); // min block size
    b.put(16, FLAC_BLOCK); // max block size
    b.put(24, 0); // min frame size unknown
    b.put(24, 0); // max frame size unknown
    b.put(20, u64::from(rate));
    b.put(3, u64::from(channels - 1));
    b.put(5, 15); // 16 bits per sample
    b.put(36, total);
    b.put(64, 0); // MD5
    b.put(64, 0);
    b.bytes()
}

/// One fixed-blocksize FLAC frame of `block` samples, CONSTANT subframes; `rate_tens` puts an
/// explicit sample rate (in tens of Hz) in the header instead of "see STREAMINFO".
fn flac_frame(index: u32, channels: u32, block: u32, rate_tens: Option<u16>) -> Vec<u8> {
    let mut b = BitsMsb::default();
    b.put(14, 0b11_1111_1111_1110);
    b.put(1, 0); // reserved
    b.put(1, 0); // fixed blocking
    b.put(4, 7); // block size: 16 bits at the end of the header
    b.put(4, if rate_tens.is_some() { 0xE } else { 0 });
    b.put(4, u64::from(channels - 1)); // independent channels
    b.put(3, 4); // 16 bits per sample
    b.put(1, 0);
    let mut head = b.bytes();
    head.extend(utf8_number(index));
    head.extend(((block - 1) as u16).to_be_bytes());
    if let Some(r) = rate_tens {
        head.extend(r.to_be_bytes());
    }
    let mut crc8 = Crc8Ccitt::new(0);
    crc8.process_buf_bytes(&head);
    head.push(crc8.crc());
    let mut s = BitsMsb::default();
    for ch in 0..channels {
        s.put(1, 0);
        s.put(6, 0); // CONSTANT
        s.put(1, 0); // no wasted bits
        s.put(16, u64::from(1000 + ch * 100));
    }
    head.extend(s.bytes());
    let mut crc16 = Crc16Ansi::new(0);
    crc16.process_buf_bytes(&head);
    head.extend(crc16.crc().to_be_bytes());
    head
}

/// FLAC's UTF-8-like coding of a frame number.
fn utf8_number(n: u32) -> Vec<u8> {
    match n {
        0..=0x7F => vec![n as u8],
        0x80..=0x7FF => vec![0xC0 | (n >> 6) as u8, 0x80 | (n & 0x3F) as u8],
        _ => vec![0xE0 | (n >> 12) as u8, 0x80 | ((n >> 6) & 0x3F) as u8, 0x80 | (n & 0x3F) as u8],
    }
}

fn flac_frame_rate_lie() -> Vec<u8> {
    let mut v = b"fLaC".to_vec();
    v.extend(flac_streaminfo(16_000, 1, 0, true));
    for i in 0..1000 {
        v.extend(flac_frame(i, 1, FLAC_BLOCK as u32, Some(65_535)));
    }
    v
}

/// A PCM WAV of a tone; `lie` replaces the RIFF and `data` sizes.
fn wav(rate: u32, channels: u16, bits: u16, secs: f64, lie: Option<u32>) -> Vec<u8> {
    let frames = (secs * f64::from(rate)) as usize;
    let width = usize::from(bits / 8);
    let mut data = Vec::with_capacity(frames * width * usize::from(channels));
    for i in 0..frames {
        let s = (i as f64 * 220.0 * std::f64::consts::TAU / f64::from(rate)).sin();
        for _ in 0..channels {
            if bits == 8 {
                data.push((128.0 + s * 60.0) as u8);
            } else {
                data.extend(((s * 8000.0) as i16).to_le_bytes());
            }
        }
    }
    let block_align = channels * (bits / 8);
    let mut v = b"RIFF".to_vec();
    v.extend(lie.unwrap_or(36 + data.len() as u32).to_le_bytes());
    v.extend(b"WAVEfmt ");
    v.extend(16u32.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(channels.to_le_bytes());
    v.extend(rate.to_le_bytes());
    v.extend((rate * u32::from(block_align)).to_le_bytes());
    v.extend(block_align.to_le_bytes());
    v.extend(bits.to_le_bytes());
    v.extend(b"data");
    v.extend(lie.unwrap_or(data.len() as u32).to_le_bytes());
    v.extend(data);
    v
}

/// `n` silent MPEG-1 Layer III frames, 32 kbit/s, 48 kHz, mono: 96 bytes each (a 4-byte header,
/// 17 bytes of zero side information, zero main data), 1152 samples each.
fn mp3_silence(n: usize) -> Vec<u8> {
    let mut frame = [0u8; 96];
    frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x14, 0xC0]);
    frame.repeat(n)
}

/// Frame syncs whose headers use reserved values (bitrate 15, sample-rate 3, layer 0) or that
/// promise frames the bytes do not hold, in a stream of pseudo-random bytes.
fn mp3_bogus() -> Vec<u8> {
    let mut v = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for i in 0..400u32 {
        let head: [u8; 4] = match i % 4 {
            0 => [0xFF, 0xFB, 0xF4, 0xC0], // bitrate index 15 (forbidden)
            1 => [0xFF, 0xFB, 0x1C, 0xC0], // sample-rate index 3 (reserved)
            2 => [0xFF, 0xF9, 0x14, 0xC0], // layer 0 (reserved)
            _ => [0xFF, 0xFB, 0xE4, 0xC0], // 320 kbit/s: promises 960 bytes, 20 follow
        };
        v.extend(head);
        for _ in 0..20 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            v.push((x >> 24) as u8 & 0x7F);
        }
    }
    v
}

/// Ogg pages, one packet per page's segment run; `packets` are (bytes, granule at its end).
fn ogg(packets: &[(Vec<u8>, u64)], headers: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let serial = 0x0C0A_C400u32;
    let mut seq = 0u32;
    let mut i = 0;
    while i < packets.len() {
        // header packets get a page each; audio packets share pages of up to 255 segments
        let mut group = vec![i];
        let mut segs = packets[i].0.len() / 255 + 1;
        if i >= headers {
            while i + group.len() < packets.len() && segs + packets[i + group.len()].0.len() / 255 < 255 {
                segs += packets[i + group.len()].0.len() / 255 + 1;
                group.push(i + group.len());
            }
        }
        let last = i + group.len() == packets.len();
        let mut table = Vec::new();
        let mut body = Vec::new();
        for &p in &group {
            let bytes = &packets[p].0;
            let mut left = bytes.len();
            while left >= 255 {
                table.push(255u8);
                left -= 255;
            }
            table.push(left as u8);
            body.extend_from_slice(bytes);
        }
        let granule = packets[*group.last().unwrap()].1;
        let mut page = b"OggS".to_vec();
        page.push(0);
        page.push(if seq == 0 {
            0x02
        } else if last {
            0x04
        } else {
            0
        });
        page.extend(granule.to_le_bytes());
        page.extend(serial.to_le_bytes());
        page.extend(seq.to_le_bytes());
        page.extend([0u8; 4]);
        page.push(table.len() as u8);
        page.extend(table);
        page.extend(body);
        let mut crc = Crc32::new(0);
        crc.process_buf_bytes(&page);
        page[22..26].copy_from_slice(&crc.crc().to_le_bytes());
        out.extend(page);
        seq += 1;
        i += group.len();
    }
    out
}

/// Ogg FLAC (mapping 1.0): the identification packet with STREAMINFO, then constant frames.
fn ogg_flac(rate: u32, channels: u32, frames: u32) -> Vec<u8> {
    let mut id = vec![0x7F];
    id.extend(b"FLAC");
    id.extend([1, 0]);
    id.extend(0u16.to_be_bytes());
    id.extend(b"fLaC");
    id.extend(flac_streaminfo(rate, channels, 0, true));
    let mut packets = vec![(id, 0)];
    for i in 0..frames {
        packets.push((flac_frame(i, channels, FLAC_BLOCK as u32, None), u64::from(i + 1) * FLAC_BLOCK));
    }
    ogg(&packets, 1)
}

/// Ogg Vorbis headers whose setup declares `codebooks` codebooks of 131 072 entries × `dims`
/// dimensions each, in about 21 bytes per codebook (length-ordered code lengths, lookup type 1
/// with one or two multiplicands); the decoder would build a `dims × 512 KiB` lookup table for
/// each.
fn ogg_vorbis(rate: u32, channels: u8, codebooks: u32, dims: u64) -> Vec<u8> {
    ogg_vorbis_books(rate, channels, codebooks, 17, dims, true)
}

/// Ogg Vorbis headers with `codebooks` complete codebooks of `2^bits` entries (every code
/// `bits` long) of `dims` dimensions, with a VQ lookup (type 1) or scalar.
pub fn ogg_vorbis_books(rate: u32, channels: u8, codebooks: u32, bits: u32, dims: u64, vq: bool) -> Vec<u8> {
    let entries = 1u64 << bits;
    let mut id = vec![1];
    id.extend(b"vorbis");
    id.extend(0u32.to_le_bytes());
    id.push(channels);
    id.extend(rate.to_le_bytes());
    id.extend([0u8; 12]); // bitrates
    id.push(0xB8); // block sizes 256 / 2048
    id.push(1);
    let mut comment = vec![3];
    comment.extend(b"vorbis");
    comment.extend(5u32.to_le_bytes());
    comment.extend(b"coach");
    comment.extend(0u32.to_le_bytes());
    comment.push(1);
    let mut b = BitsLsb::default();
    b.put(8, u64::from(codebooks - 1));
    for _ in 0..codebooks {
        b.put(24, 0x56_4342);
        b.put(16, dims);
        b.put(24, entries);
        b.put(1, 1); // length-ordered
        b.put(5, u64::from(bits - 1)); // first length
        b.put(bits + 1, entries); // all entries have that length (a complete code)
        if !vq {
            b.put(4, 0); // scalar
            continue;
        }
        b.put(4, 1); // lookup type 1
        b.put(32, 0); // minimum value
        b.put(32, 0); // delta value
        b.put(4, 0); // 1-bit values
        b.put(1, 0); // sequence_p
        b.put(2, 0); // lookup1_values(131 072, dims) ≤ 2 multiplicands
    }
    // time-domain transforms, then a deliberately invalid floor: decoding needs no more
    b.put(6, 0);
    b.put(16, 0);
    b.put(6, 0);
    b.put(16, 7);
    let mut setup = vec![5];
    setup.extend(b"vorbis");
    setup.extend(b.bytes());
    let mut packets = vec![(id, 0), (comment, 0), (setup, 0)];
    packets.extend((1..=20u64).map(|i| (vec![0u8; 8], i * 1024))); // audio packets
    ogg(&packets, 3)
}
