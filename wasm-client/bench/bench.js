// The benchmark page: loads the optimized coach-wasm package and idb-keyval from this server (no
// CDN) and measures, in one Chromium run:
//   * VoiceCache.get of a 30 KB clip vs idb-keyval get of the same Blob (the get ratio),
//   * VoiceCache.put of a new key into a full cache (expiry scan + random eviction + write) vs
//     idb-keyval set of the same Blob (the put ratio),
//   * playback start latency (AudioPlayer.play → `playing`), alone and from a cache hit.
// Results land in window.__bench (read by run.mjs) and in the page.
import init, { VoiceCache, AudioPlayer, version } from '/pkg/coach_wasm.js';
import { createStore, get, set } from '/idb-keyval/index.js';

const GETS = 300;
const PUTS = 60;
const PLAYS = 15;

/** A mono 16-bit PCM WAV tone of `bytes` bytes (real, playable audio). */
function wav(bytes, freq) {
  const samples = Math.floor((bytes - 44) / 2);
  const rate = 22050;
  const buf = new ArrayBuffer(44 + samples * 2);
  const v = new DataView(buf);
  const str = (o, s) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, 'RIFF'); v.setUint32(4, 36 + samples * 2, true); str(8, 'WAVEfmt ');
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true);
  v.setUint16(34, 16, true); str(36, 'data'); v.setUint32(40, samples * 2, true);
  for (let i = 0; i < samples; i++) {
    v.setInt16(44 + i * 2, Math.sin((i / rate) * freq * 2 * Math.PI) * 0.4 * 32767, true);
  }
  return new Blob([buf], { type: 'audio/wav' });
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: q(0.5), p95: q(0.95), min: s[0], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function time(f) {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function run() {
  const clip = wav(30 * 1024, 440);
  const stamp = Date.now();
  const cache = await VoiceCache.open('bench-user', { dbName: `coach-bench-${stamp}` });
  const kv = createStore(`coach-bench-keyval-${stamp}`, 'kv');
  const key = 'a'.repeat(64);
  await cache.put(key, clip, { text: 'Nice lift!', tone: 'neutral', context: 'bench', duration: 0.7 });
  await set('clip', clip, kv);

  // warm-up, then interleaved measurements so both see the same conditions
  for (let i = 0; i < 20; i++) { await cache.get(key); await get('clip', kv); }
  const cacheGet = [], kvGet = [], cachePeek = [], cacheGetBytes = [], kvGetBytes = [];
  // The peek (a read-only transaction on the same stores) waits for the get's bookkeeping to
  // commit, so idb-keyval is timed with no work of the cache still running.
  for (let i = 0; i < GETS; i++) {
    cacheGet.push(await time(() => cache.get(key)));
    cachePeek.push(await time(() => cache.peek(key)));
    kvGet.push(await time(() => get('clip', kv)));
  }
  for (let i = 0; i < 50; i++) {
    cacheGetBytes.push(await time(async () => (await cache.get(key)).audio.arrayBuffer()));
    kvGetBytes.push(await time(async () => (await get('clip', kv)).arrayBuffer()));
  }
  const got = await cache.get(key);
  const same = new Uint8Array(await got.audio.arrayBuffer()).length === clip.size;

  // puts: fill to 10, then every put evicts one at random
  const puts = [], kvPuts = [];
  for (let i = 0; i < 10; i++) await cache.put(`fill-${i}`, wav(30 * 1024, 200 + i), { tone: 'neutral' });
  for (let i = 0; i < PUTS; i++) {
    const b = wav(30 * 1024, 300 + i);
    puts.push(await time(() => cache.put(`k-${i}`, b, { tone: 'hype', context: 'bench' })));
    // untimed: the put's audio sweep starts right after it answered; a read on the same stores
    // waits for it, so idb-keyval is timed with no work of the cache still running
    await new Promise((r) => setTimeout(r, 0));
    await cache.has(`k-${i}`);
    kvPuts.push(await time(() => set(`k-${i}`, b, kv)));
  }
  const st = await cache.stats();

  // playback start: play → `playing`; and a cache hit → `playing` (what speak() does on a hit)
  const player = new AudioPlayer();
  const play = [], hitToPlay = [];
  await cache.put(key, clip, { tone: 'neutral' });
  for (let i = 0; i < PLAYS; i++) {
    const r = await player.play(clip);
    play.push(r.playbackLatency);
    player.stop();
    const t0 = performance.now();
    const hit = await cache.get(key);
    const lookup = performance.now() - t0;
    const r2 = await player.play(hit.audio);
    hitToPlay.push(lookup + r2.playbackLatency);
    player.stop();
  }
  cache.close();

  const result = {
    version: version(),
    crossOriginIsolated: self.crossOriginIsolated,
    userAgent: navigator.userAgent,
    clipBytes: clip.size,
    readBackIdentical: same,
    cacheGet: stats(cacheGet),
    idbKeyvalGet: stats(kvGet),
    ratio: stats(cacheGet).median / stats(kvGet).median,
    cachePeek: stats(cachePeek),
    cacheGetBytes: stats(cacheGetBytes),
    idbKeyvalGetBytes: stats(kvGetBytes),
    cachePut: stats(puts),
    idbKeyvalPut: stats(kvPuts),
    putRatio: stats(puts).median / stats(kvPuts).median,
    evictions: st.evictions,
    entries: st.entries,
    playbackStart: stats(play),
    cacheHitToPlaying: stats(hitToPlay),
  };
  return result;
}

await init();
const button = document.getElementById('run');
const out = document.getElementById('out');
out.textContent = `coach-wasm ${version()} loaded; press Run`;
button.disabled = false;
button.addEventListener('click', async () => {
  button.disabled = true;
  out.textContent = 'running…';
  try {
    window.__bench = await run();
    out.textContent = JSON.stringify(window.__bench, null, 2);
  } catch (e) {
    window.__bench = { error: `${e?.name}: ${e?.message} ${e?.error ?? ''}` };
    out.textContent = window.__bench.error;
  }
});
window.__benchReady = true;
