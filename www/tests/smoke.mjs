#!/usr/bin/env node
// Smoke test of the built Coach web app in a real (headless) Chromium.
//
//   COACH_BASE_URL=http://127.0.0.1:8080 node tests/smoke.mjs
//
// Checks that the library page (/tools, no sign-in needed) loads, the coach-wasm package
// initialises in the browser, the anonymizer
// computes SHA-256("user-1"), the PII check and the tone form answer, and the server card settles.
// The server card is checked tolerantly: against a plain static server /health does not exist.
// Uses the system Chromium (CHROMIUM_PATH, default /usr/bin/chromium); never downloads a browser.
// Exits non-zero on any failure.

import { chromium } from 'playwright-core';

const base = (process.env.COACH_BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const expectedHash = 'c6c289e49e9c05b2145860387b73bcb18df43fb09a1e4a4a9713c76c88bb541b';
const timeout = 15_000;

const failures = [];
const check = (ok, what) => {
	console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
	if (!ok) failures.push(what);
};

let browser;
try {
	browser = await chromium.launch({
		executablePath,
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync'
		]
	});
	const page = await browser.newPage();
	const pageErrors = [];
	page.on('pageerror', (e) => pageErrors.push(e.message));
	// Requests that leave the base origin (there should be none: no CDN, no fonts).
	const foreign = [];
	page.on('request', (r) => {
		const u = r.url();
		if (!u.startsWith(base) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
	});

	const res = await page.goto(`${base}/tools`, { waitUntil: 'load', timeout });
	check(res !== null && res.ok(), `GET ${base}/tools answers ${res?.status()}`);
	await page.waitForFunction(() => document.title !== '', null, { timeout });
	check((await page.title()).endsWith('Coach'), `the page title ends with "Coach" (${await page.title()})`);

	const version = page.getByTestId('wasm-version');
	await version.filter({ hasText: /^v\d/ }).waitFor({ timeout });
	check(true, `coach-wasm loaded (${(await version.textContent())?.trim()})`);

	// Anonymizer: typed input, hashed live in the browser.
	await page.getByLabel('User id').pressSequentially('user-1');
	const hashed = page.getByTestId('hashed-id');
	try {
		await hashed.filter({ hasText: expectedHash }).waitFor({ timeout });
		check(true, 'anonymizer: "user-1" hashes to c6c289e4…541b');
	} catch {
		check(false, `anonymizer: expected ${expectedHash}, saw "${(await hashed.textContent())?.trim()}"`);
	}

	// PII check: a clean text and a phone number.
	const pii = page.getByTestId('pii-verdict');
	await page.getByLabel('Text to check').fill('Great tempo run today');
	await pii.filter({ hasText: 'OK: no personal information' }).waitFor({ timeout });
	check(true, 'PII check: clean text is OK');
	await page.getByLabel('Text to check').fill('Call me on 555 123 4567 please');
	try {
		await pii.filter({ hasText: /^Found / }).waitFor({ timeout });
		check(true, `PII check: ${(await pii.textContent())?.replace(/\s+/g, ' ').trim()}`);
	} catch {
		check(false, `PII check: expected a finding, saw "${(await pii.textContent())?.trim()}"`);
	}

	// Tone: some tone is chosen; it stays one of the three known tones as inputs change.
	const tone = page.getByTestId('tone').locator('strong');
	await tone.waitFor({ timeout });
	const tones = ['whisper', 'neutral', 'hype'];
	const t0 = (await tone.textContent())?.trim();
	await page.getByLabel('pr_attempt').check();
	const t1 = (await tone.textContent())?.trim();
	check(tones.includes(t0 ?? '') && tones.includes(t1 ?? ''), `tone: ${t0} at strain 50, ${t1} with pr_attempt`);

	// Server card: wait until both probes settle; only report what it says.
	const status = page.getByTestId('server-status');
	await page
		.waitForFunction(() => !document.querySelector('[data-testid="server-status"] dd.pending'), null, {
			timeout
		})
		.catch(() => {});
	console.log(`info server card: ${(await status.textContent())?.replace(/\s+/g, ' ').trim()}`);

	check(pageErrors.length === 0, `no uncaught page errors${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`);
	check(foreign.length === 0, `no requests outside ${base}${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
} catch (e) {
	check(false, `smoke test crashed: ${e instanceof Error ? e.message : e}`);
} finally {
	await browser?.close();
}

if (failures.length) {
	console.error(`\n${failures.length} check(s) failed`);
	process.exit(1);
}
console.log('\nsmoke test passed');
