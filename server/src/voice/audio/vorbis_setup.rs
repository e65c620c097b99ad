//! A budget for Vorbis setup headers, checked before symphonia builds a decoder from one.
//!
//! A Vorbis codebook declares up to 131 072 entries of up to 32 dimensions in about 21 bytes
//! (length-ordered code lengths, lookup type 1 with a single multiplicand); the decoder then
//! builds a lookup table of `entries × dimensions` floats — 16 MiB — and a setup header may hold
//! 256 codebooks; and a complete code of 131 072 17-bit codewords needs 65 536 decoding
//! sub-tables (~137 MB in symphonia) on top. This module reads only the codebook section of the setup
//! header (Vorbis I specification §3.2.1, LSB-first bit packing, symphonia's own bit reader) and
//! adds up an upper bound of what the decoder would allocate (lookup tables, codeword tables and
//! their multi-level decoding tables); [`check`] refuses the stream above [`CODEBOOK_BUDGET`].
//! Measured without this check: 64 such codebooks (1.6 KB of Ogg) made symphonia allocate 8.9 GB
//! and spend 62 s before it failed on the floors that follow.

use symphonia::core::io::{BitReaderRtl, FiniteBitStream, ReadBitsRtl};

use super::AudioError;

/// Most bytes the codebooks of one stream may need once built, by this module's upper bound.
/// libvorbis setups (q −1 to q 10, mono and stereo, 22–44 kHz, made with `sox`) measure 9–13 MiB
/// by it (they really take under 1 MiB); the crafted setups measure gigabytes.
pub const CODEBOOK_BUDGET: u64 = 32 * 1024 * 1024;
/// Bytes per entry besides the lookup and decoding tables (code length, code value, codeword).
const PER_ENTRY: u64 = 16;
/// Bytes per decoding-table entry, counted generously.
const TABLE_ENTRY: u64 = 16;
/// The setup packet's signature.
const SETUP_SIGNATURE: &[u8] = b"\x05vorbis";

/// Refuses the stream when a setup header in `extra_data` (the codec's private data: the
/// identification and setup packets, one after the other or Xiph-laced with the comment packet)
/// declares codebooks beyond [`CODEBOOK_BUDGET`], or when no setup header in it can be read.
/// Every occurrence of the setup signature is measured, so a decoy in the comment packet cannot
/// hide the real one.
pub fn check(extra_data: &[u8]) -> Result<(), AudioError> {
    match measure(extra_data) {
        None => Err(AudioError::NoAudio("the Vorbis setup header cannot be read".into())),
        Some(u64::MAX) => Err(AudioError::Unsupported(
            "its Vorbis setup declares a codebook whose lookup table cannot be sized".into(),
        )),
        Some(bytes) if bytes > CODEBOOK_BUDGET => Err(AudioError::Unsupported(format!(
            "its Vorbis setup declares {} MiB of codebooks (at most {} MiB)",
            bytes.div_ceil(1024 * 1024),
            CODEBOOK_BUDGET / (1024 * 1024)
        ))),
        Some(_) => Ok(()),
    }
}

/// Before probing an Ogg file: refuses it when a setup header found in the raw bytes declares
/// codebooks beyond the budget or a lookup size symphonia's Ogg reader cannot compute (its
/// `lookup1_values` overflows `u32` and panics). Setups split across pages are not seen here
/// (they are still measured by [`check`] before the decoder is made, and a reader panic is
/// caught as a refusal by the caller).
pub fn precheck(file: &[u8]) -> Result<(), AudioError> {
    match measure(file) {
        Some(bytes) if bytes > CODEBOOK_BUDGET => check(file),
        _ => Ok(()),
    }
}

/// The largest codebook memory any readable setup header in `extra_data` declares
/// (`u64::MAX` for a codebook whose lookup size cannot be computed).
fn measure(extra_data: &[u8]) -> Option<u64> {
    let mut measured = None;
    let mut at = 0;
    while let Some(pos) = find(&extra_data[at..], SETUP_SIGNATURE) {
        let start = at + pos + SETUP_SIGNATURE.len();
        if let Some(bytes) = codebook_bytes(&extra_data[start..]) {
            measured = Some(measured.unwrap_or(0).max(bytes));
        }
        at = start;
    }
    measured
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `ilog` of the specification: the position of the highest set bit (0 for 0).
fn ilog(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// Bytes of the decoding tables of a code with `lengths[l]` codewords of length `l`. Decoders
/// (symphonia's among them) read `b = clamp(longest, 4, 8)` bits at a time through a root table
/// and one sub-table of `2^b` entries per distinct `k·b`-bit prefix of the longer codewords; their
/// number is bounded by the codewords longer than `k·b` bits and by `2^(k·b)`. A complete code
/// of 131 072 codewords of 17 bits needs 65 536 third-level tables: 128 MiB for 21 bytes.
fn table_bytes(lengths: &[u64; 33]) -> u64 {
    let longest = (1..=32).rev().find(|&l| lengths[l] > 0).unwrap_or(0) as u32;
    let b = longest.clamp(4, 8);
    let mut tables = 1u64;
    let mut depth = b;
    while depth < longest {
        let longer: u64 = lengths[depth as usize + 1..].iter().sum();
        tables += longer.min(1u64 << depth.min(40));
        depth += b;
    }
    tables * (1u64 << b) * TABLE_ENTRY
}

/// The bytes the codebooks after a setup signature would take once built, or `None` when they
/// do not parse (the decoder would refuse them too).
fn codebook_bytes(setup: &[u8]) -> Option<u64> {
    let mut bs = BitReaderRtl::new(setup);
    let count = bs.read_bits_leq32(8).ok()? + 1;
    let mut total = 0u64;
    for _ in 0..count {
        if bs.read_bits_leq32(24).ok()? != 0x56_4342 {
            return None;
        }
        let dims = u64::from(bs.read_bits_leq32(16).ok()?);
        let entries = bs.read_bits_leq32(24).ok()?;
        let mut lengths = [0u64; 33];
        if bs.read_bool().ok()? {
            // length-ordered: runs of equal lengths
            let mut length = bs.read_bits_leq32(5).ok()? as usize + 1;
            let mut current = 0u32;
            while current < entries {
                let n = bs.read_bits_leq32(ilog(entries - current)).ok()?;
                current = current.checked_add(n)?;
                if current > entries || (n > 0 && length > 32) {
                    return None;
                }
                if n > 0 {
                    lengths[length] += u64::from(n);
                }
                length += 1;
            }
        } else {
            let sparse = bs.read_bool().ok()?;
            for _ in 0..entries {
                if !sparse || bs.read_bool().ok()? {
                    lengths[bs.read_bits_leq32(5).ok()? as usize + 1] += 1;
                }
            }
        }
        let lookup = bs.read_bits_leq32(4).ok()?;
        total += u64::from(entries) * PER_ENTRY + table_bytes(&lengths);
        match lookup {
            0 => {}
            1 | 2 => {
                bs.ignore_bits(64).ok()?; // minimum and delta values
                let value_bits = u64::from(bs.read_bits_leq32(4).ok()? + 1);
                bs.ignore_bits(1).ok()?; // sequence_p
                if lookup == 1 && !readers_can_size(entries, dims) {
                    return Some(u64::MAX);
                }
                let values = if lookup == 1 { lookup1_values(entries, dims)? } else { u64::from(entries) * dims };
                let bits = values.checked_mul(value_bits)?;
                if bits > bs.bits_left() {
                    return None;
                }
                skip(&mut bs, bits)?;
                total += u64::from(entries) * dims * 4;
            }
            _ => return None,
        }
    }
    Some(total)
}

/// Whether symphonia's readers compute `lookup1_values` for these sizes without overflowing:
/// they take `floor(entries^(1/dims))` in `f32` and assert `v^dims ≤ entries < (v+1)^dims` in
/// `u32` arithmetic.
fn readers_can_size(entries: u32, dims: u64) -> bool {
    let Ok(d) = u16::try_from(dims) else { return false };
    if d == 0 {
        return false;
    }
    let v = (entries as f32).powf(1.0f32 / f32::from(d)).floor() as u32;
    v.checked_pow(u32::from(d)).is_some_and(|p| p <= entries)
        && (v + 1).checked_pow(u32::from(d)).is_some_and(|p| p > entries)
}

/// The largest `v` with `v^dims ≤ entries` (the specification's `lookup1_values`).
fn lookup1_values(entries: u32, dims: u64) -> Option<u64> {
    if dims == 0 {
        return None;
    }
    let fits = |v: u64| v.checked_pow(u32::try_from(dims).ok()?).is_some_and(|p| p <= u64::from(entries)).then_some(());
    let mut v = (f64::from(entries).powf(1.0 / dims as f64)).floor() as u64;
    while v > 0 && fits(v).is_none() {
        v -= 1;
    }
    while fits(v + 1).is_some() {
        v += 1;
    }
    Some(v)
}

fn skip(bs: &mut BitReaderRtl<'_>, mut bits: u64) -> Option<()> {
    while bits > 0 {
        let step = bits.min(u64::from(u32::MAX)) as u32;
        bs.ignore_bits(step).ok()?;
        bits -= u64::from(step);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup1_values_matches_the_specification() {
        assert_eq!(lookup1_values(131_072, 32), Some(1));
        assert_eq!(lookup1_values(6561, 8), Some(3));
        assert_eq!(lookup1_values(625, 4), Some(5));
        assert_eq!(lookup1_values(624, 4), Some(4));
        assert_eq!(lookup1_values(10, 1), Some(10));
    }

    #[test]
    fn lookup_sizes_symphonia_cannot_compute_are_caught() {
        assert!(readers_can_size(6561, 8));
        assert!(readers_can_size(131_072, 16));
        assert!(!readers_can_size(131_072, 32)); // 2^32 overflows
        assert!(!readers_can_size(100, 0));
    }

    #[test]
    fn unreadable_setup_is_refused() {
        assert!(check(b"no setup here").is_err());
        assert!(check(b"\x05vorbis\x00\x01\x02").is_err());
    }
}
