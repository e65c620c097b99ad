// The first load of the app, as a new visitor's browser sees it (issue 11; run by
// `cargo xtask bench-browser` against a coach-server serving www/build):
//
// 1. Bytes over the wire: `/` in the system Chromium (playwright-core) with a fresh context (empty
//    HTTP cache, no service worker), every response counted by Playwright's `request.sizes()`
//    (headers + body as transferred, i.e. compressed) — the page's and the service worker's
//    install precache alike — until the network is idle; printed per kind and in total against
//    the 150 KB target.
// 2. Lighthouse (the pinned CLI in www/tools, mobile preset: simulated slow 4G and a 4× slower
//    CPU), performance category only: the score against the target 95 and the metrics behind it.
//
// Figures are printed, never asserted. Env: COACH_BASE_URL (required), LIGHTHOUSE (the CLI;
// default www/tools/node_modules/.bin/lighthouse), CHROME_PATH (default /usr/bin/chromium),
// FIRSTLOAD_JSON (write the figures there as JSON).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const base = (process.env.COACH_BASE_URL ?? '').replace(/\/+$/, '');
if (!base) {
	console.error('COACH_BASE_URL is not set (the coach-server serving www/build)');
	process.exit(2);
}
const chrome = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const lighthouse = process.env.LIGHTHOUSE ?? join(here, '../tools/node_modules/.bin/lighthouse');
const TARGET_BYTES = 150 * 1024;
const TARGET_SCORE = 95;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

/** What a response is, for the breakdown (Playwright's resource type, else the path: the service
 *  worker's precache requests are all `fetch`). */
function kind(url, type, mime) {
	const path = new URL(url).pathname;
	if (path.startsWith('/v1/') || path === '/health') return 'api';
	if (path.endsWith('.wasm') || mime === 'application/wasm') return 'wasm';
	if (type === 'document' || path === '/' || path.endsWith('.html') || mime === 'text/html') return 'html';
	if (type === 'script' || path.endsWith('.js')) return 'js';
	if (type === 'stylesheet' || path.endsWith('.css')) return 'css';
	if (type === 'manifest' || path.endsWith('.webmanifest')) return 'manifest';
	if (type === 'image' || /\.(png|svg|ico|webp)$/.test(path)) return 'image';
	return 'other';
}

async function bytesOverTheWire() {
	const browser = await chromium.launch({ executablePath: chrome, headless: true, args: ['--no-sandbox'] });
	try {
		// a fresh context: empty HTTP cache, no service worker yet
		const context = await browser.newContext();
		const rows = [];
		const pending = [];
		// Playwright reports the service worker's own fetches too (its install precache): they are
		// bytes of the first visit as much as the page's. A page request the worker answered from
		// its cache moved no bytes and is left out.
		context.on('requestfinished', (req) => {
			pending.push(
				(async () => {
					const res = await req.response();
					if (!res || res.fromServiceWorker()) return;
					const sizes = await req.sizes();
					const h = await res.allHeaders();
					rows.push({
						url: req.url(),
						type: req.resourceType(),
						mime: (h['content-type'] ?? '').split(';')[0],
						status: res.status(),
						encoding: h['content-encoding'] ?? '',
						cacheControl: h['cache-control'] ?? '',
						by: req.serviceWorker() ? 'worker' : 'page',
						bytes: Math.max(0, sizes.responseBodySize) + Math.max(0, sizes.responseHeadersSize)
					});
				})().catch(() => {})
			);
		});
		const page = await context.newPage();
		await page.goto(`${base}/`, { waitUntil: 'networkidle' });
		// what the page fetches once its scripts run (the wasm, the first API calls), and the
		// service worker's install (it precaches the version for offline starts)
		await page.evaluate(() => navigator.serviceWorker?.ready).catch(() => {});
		await page.waitForTimeout(1000);
		await page.waitForLoadState('networkidle');
		await Promise.all(pending);
		await context.close();
		return rows;
	} finally {
		await browser.close();
	}
}

function runLighthouse() {
	const out = join(mkdtempSync(join(tmpdir(), 'coach-lighthouse-')), 'report.json');
	const r = spawnSync(
		lighthouse,
		[
			`${base}/`,
			'--chrome-flags=--headless --no-sandbox',
			'--only-categories=performance',
			'--output=json',
			`--output-path=${out}`,
			'--quiet'
		],
		{ env: { ...process.env, CHROME_PATH: chrome }, stdio: ['ignore', 'inherit', 'inherit'], timeout: 240_000 }
	);
	if (r.status !== 0) throw new Error(`lighthouse exited with ${r.status ?? r.signal}`);
	const report = JSON.parse(readFileSync(out, 'utf8'));
	rmSync(dirname(out), { recursive: true, force: true });
	const audit = (id) => report.audits[id];
	return {
		version: report.lighthouseVersion,
		formFactor: report.configSettings.formFactor,
		score: Math.round(report.categories.performance.score * 100),
		metrics: Object.fromEntries(
			[
				'first-contentful-paint',
				'largest-contentful-paint',
				'speed-index',
				'total-blocking-time',
				'cumulative-layout-shift',
				'interactive',
				'total-byte-weight'
			].map((id) => [id, { value: audit(id)?.numericValue, shown: audit(id)?.displayValue, score: audit(id)?.score }])
		)
	};
}

const rows = await bytesOverTheWire();
const byKind = new Map();
for (const r of rows) {
	const k = kind(r.url, r.type, r.mime);
	const e = byKind.get(k) ?? { kind: k, requests: 0, bytes: 0 };
	e.requests += 1;
	e.bytes += r.bytes;
	byKind.set(k, e);
}
const total = rows.reduce((s, r) => s + r.bytes, 0);
console.log(`\nfirst load of ${base}/ (fresh profile, Chromium ${chrome}): bytes over the wire`);
for (const r of [...rows].sort((a, b) => b.bytes - a.bytes)) {
	const path = new URL(r.url).pathname;
	console.log(
		`  ${kb(r.bytes).padStart(9)}  ${String(r.status).padEnd(3)} ${(r.encoding || 'identity').padEnd(8)} ${r.by.padEnd(6)} ${path}  [${r.cacheControl || 'no cache-control'}]`
	);
}
const byWorker = rows.filter((r) => r.by === 'worker');
console.log(`  of which the service worker's precache: ${kb(byWorker.reduce((s, r) => s + r.bytes, 0))} in ${byWorker.length} requests`);
console.log('  by kind:');
for (const e of [...byKind.values()].sort((a, b) => b.bytes - a.bytes)) {
	console.log(`  ${kb(e.bytes).padStart(9)}  ${e.kind} (${e.requests} request${e.requests === 1 ? '' : 's'})`);
}
const verdict = (ok) => (ok ? 'met' : 'NOT met');
console.log(`  ${kb(total).padStart(9)}  total, ${rows.length} requests — target ≤ ${kb(TARGET_BYTES)}: ${verdict(total <= TARGET_BYTES)}`);

const lh = runLighthouse();
console.log(`\nLighthouse ${lh.version} (${lh.formFactor} preset, performance only): score ${lh.score} — target ≥ ${TARGET_SCORE}: ${verdict(lh.score >= TARGET_SCORE)}`);
for (const [id, m] of Object.entries(lh.metrics)) {
	console.log(`  ${id.padEnd(26)} ${String(m.shown ?? '-').padStart(10)}  (audit score ${m.score ?? '-'})`);
}

if (process.env.FIRSTLOAD_JSON) {
	writeFileSync(process.env.FIRSTLOAD_JSON, JSON.stringify({ total, byKind: [...byKind.values()], rows, lighthouse: lh }, null, 2));
}
