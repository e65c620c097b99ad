#!/usr/bin/env node
// Serves the benchmark page, the built coach-wasm package (wasm-client/pkg) and idb-keyval from a
// loopback port, opens it in the system Chromium through playwright-core (never downloads a
// browser), presses Run (a real user gesture, so audio may start) and prints the figures.
//
//   node wasm-client/bench/run.mjs        (cargo xtask bench-browser builds the package first)
//
// CHROMIUM_PATH overrides /usr/bin/chromium; BENCH_JSON=<file> also writes the raw results.
import { createServer } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// issue 11's targets, printed beside the ratios (medians of the same run), never asserted
const GET_TARGET = 1.2;
const PUT_TARGET = 1.5;

const here = dirname(fileURLToPath(import.meta.url));
const client = join(here, '..');
const require = createRequire(join(client, 'tools', 'package.json'));
const { chromium } = require('playwright-core');

const roots = {
  '/pkg/': join(client, 'pkg'),
  '/bench/': here,
  '/idb-keyval/': join(client, 'tools', 'node_modules', 'idb-keyval', 'dist'),
};
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const prefix = Object.keys(roots).find((p) => path.startsWith(p));
  const file = prefix && normalize(join(roots[prefix], path.slice(prefix.length)));
  if (!file || !file.startsWith(roots[prefix])) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': types[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      // cross-origin isolation: performance.now() resolution of 5 µs instead of 100 µs
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--mute-audio',
  ],
});
let failed = false;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) errors.push(`foreign request ${r.url()}`);
  });
  await page.goto(`${base}/bench/index.html`);
  await page.waitForFunction(() => window.__benchReady === true, null, { timeout: 30_000 });
  await page.click('#run');
  await page.waitForFunction(() => window.__bench !== undefined, null, { timeout: 300_000 });
  const r = await page.evaluate(() => window.__bench);
  if (r.error || errors.length) throw new Error(r.error ?? errors.join('\n'));
  if (process.env.BENCH_JSON) await writeFile(process.env.BENCH_JSON, JSON.stringify(r, null, 2));

  const ms = (s) => `median ${s.median.toFixed(3)} ms   p95 ${s.p95.toFixed(3)} ms   (n=${s.n})`;
  const browserVersion = browser.version();
  console.log(`\ncoach-wasm ${r.version} browser benchmark — Chromium ${browserVersion} (headless), ${(r.clipBytes / 1024).toFixed(0)} KB WAV clip, timer ${r.crossOriginIsolated ? '5 µs (cross-origin isolated)' : '100 µs'}`);
  console.log(`  cache get   VoiceCache.get (hit, usage+stats updated)   ${ms(r.cacheGet)}`);
  console.log(`  baseline    idb-keyval get of the same Blob             ${ms(r.idbKeyvalGet)}`);
  console.log(`  (read-only) VoiceCache.peek                             ${ms(r.cachePeek)}`);
  console.log(`  get + read bytes: cache ${r.cacheGetBytes.median.toFixed(3)} ms vs idb-keyval ${r.idbKeyvalGetBytes.median.toFixed(3)} ms (medians)`);
  console.log(`  cache put   new key into a full cache (evicts one)      ${ms(r.cachePut)}`);
  console.log(`  baseline    idb-keyval set of the same Blob             ${ms(r.idbKeyvalPut)}`);
  console.log(`  playback    AudioPlayer.play → 'playing'                ${ms(r.playbackStart)}`);
  console.log(`  speak hit   cache get → 'playing'                       ${ms(r.cacheHitToPlaying)}`);
  const verdict = (x, target) => (x <= target ? 'met' : 'NOT met');
  console.log(`  ratio       VoiceCache.get / idb-keyval get = ${r.ratio.toFixed(2)} (target ≤ ${GET_TARGET}: ${verdict(r.ratio, GET_TARGET)})`);
  console.log(`  ratio       VoiceCache.put / idb-keyval set = ${r.putRatio.toFixed(2)} (target ≤ ${PUT_TARGET}: ${verdict(r.putRatio, PUT_TARGET)})`);
  console.log(`  checks      read back ${r.readBackIdentical ? 'identical' : 'DIFFERENT'}, ${r.entries} entries after ${r.evictions} evictions`);
  if (!r.readBackIdentical || r.entries !== 10) failed = true;
} catch (e) {
  console.error(`benchmark failed: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
