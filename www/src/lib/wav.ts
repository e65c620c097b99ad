// Turning a microphone recording into a 16-bit PCM WAV. Browsers record compressed audio
// (Chrome and Firefox: Opus in WebM/Ogg) that not every speech provider or the server's decoder
// accepts; WAV is accepted everywhere. The browser decodes its own recording (decodeAudioData),
// mixes it to mono and resamples it (OfflineAudioContext) before the 44-byte header is written.

const RATE = 22050;

/** The recording as mono 16-bit WAV at 22.05 kHz. */
export async function recordingToWav(recording: Blob): Promise<{ wav: Blob; seconds: number }> {
	const decoded = await new OfflineAudioContext(1, 1, RATE).decodeAudioData(await recording.arrayBuffer());
	const frames = Math.max(1, Math.ceil(decoded.duration * RATE));
	const ctx = new OfflineAudioContext(1, frames, RATE);
	const src = ctx.createBufferSource();
	src.buffer = decoded;
	src.connect(ctx.destination);
	src.start();
	const pcm = (await ctx.startRendering()).getChannelData(0);
	return { wav: encodeWav(pcm, RATE), seconds: decoded.duration };
}

/** 16-bit little-endian PCM WAV of mono float samples (clipped to ±1). */
export function encodeWav(samples: Float32Array, rate: number): Blob {
	const out = new DataView(new ArrayBuffer(44 + samples.length * 2));
	const ascii = (at: number, s: string) => [...s].forEach((c, i) => out.setUint8(at + i, c.charCodeAt(0)));
	ascii(0, 'RIFF');
	out.setUint32(4, 36 + samples.length * 2, true);
	ascii(8, 'WAVE');
	ascii(12, 'fmt ');
	out.setUint32(16, 16, true); // fmt chunk size
	out.setUint16(20, 1, true); // PCM
	out.setUint16(22, 1, true); // mono
	out.setUint32(24, rate, true);
	out.setUint32(28, rate * 2, true); // byte rate
	out.setUint16(32, 2, true); // block align
	out.setUint16(34, 16, true); // bits per sample
	ascii(36, 'data');
	out.setUint32(40, samples.length * 2, true);
	for (let i = 0; i < samples.length; i++) {
		const v = Math.max(-1, Math.min(1, samples[i]));
		out.setInt16(44 + i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
	}
	return new Blob([out.buffer], { type: 'audio/wav' });
}
