// Helpers of the end-to-end tests: the browser (the system Chromium through playwright-core, never
// a downloaded one), pages that record foreign requests and page errors, the dev-mode sign-in
// through the UI, direct API calls from Node for setup and verification, and screenshots.

import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

/** The server under test (the app at `/`, the API at `/v1`). */
export const base = (process.env.COACH_BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
/** Where screenshots go (docs/screenshots to refresh the README's). */
export const shotDir = resolve(process.env.COACH_SCREENSHOTS_DIR ?? join(here, '..', '..', 'test-results', 'screenshots'));
/** Default wait for UI states. */
export const timeout = 20_000;

/** Launches headless Chromium with the flags the tests need. */
export function launch() {
	return chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			// speak() starts audio after awaits; no test should depend on gesture bookkeeping
			'--autoplay-policy=no-user-gesture-required',
			'--mute-audio',
			// the cloning wizard's recorder: a fake microphone, permission granted without a prompt
			'--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream'
		]
	});
}

/** A fresh context (own storage, like a new browser profile) and page, with bookkeeping of
 *  requests that leave the app's origin and of uncaught page errors. */
export async function openPage(browser, { viewport = { width: 1280, height: 860 } } = {}) {
	const context = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: 'light' });
	const page = await context.newPage();
	const foreign = [];
	const errors = [];
	page.on('request', (r) => {
		const u = r.url();
		if (!u.startsWith(base) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
	});
	page.on('pageerror', (e) => errors.push(e.message));
	page.setDefaultTimeout(timeout);
	return { context, page, foreign, errors };
}

/** A unique id for this run. */
export const uid = (prefix) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Lowercase hex SHA-256, the hashedUserId of a user id. */
export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/** The name of the package's IndexedDB database of a user (`db_name_for` in wasm-client/src/idb). */
export const dbName = (userId) => `coach-wasm:${sha256(userId).slice(0, 32)}`;

/** One API call from Node (setup and verification, outside the browser). */
export async function api(method, path, { token, body, headers = {} } = {}) {
	const res = await fetch(`${base}${path}`, {
		method,
		headers: {
			accept: 'application/json',
			...(token ? { authorization: `Bearer ${token}` } : {}),
			...(body !== undefined ? { 'content-type': 'application/json' } : {}),
			...headers
		},
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const text = await res.text();
	let json = null;
	try {
		json = text ? JSON.parse(text) : null;
	} catch {
		// not JSON
	}
	return { status: res.status, json, text };
}

/** A token from the dev-mode sign-in route (setup). */
export async function devToken(userId, { premium = true, consent = false, role = 'user' } = {}) {
	const r = await api('POST', '/v1/dev/session', {
		body: { userId, isPremium: premium, dataCollectionConsent: consent, role }
	});
	if (r.status !== 200) throw new Error(`dev session for ${userId}: ${r.status} ${r.text}`);
	return r.json.token;
}

/** Signs in through the sign-in page (dev mode); waits for the page it lands on. */
export async function signIn(page, { userId, premium = true, consent = false, admin = false, name = '' }) {
	await page.goto(`${base}/signin`);
	await page.getByTestId('dev-notice').waitFor();
	await page.getByLabel('User id').fill(userId);
	if (name) await page.getByLabel('Display name (optional)').fill(name);
	await page.getByLabel('Premium (voice, tone, cloning)').setChecked(premium);
	await page.getByLabel('Share anonymized workout data for training').setChecked(consent);
	await page.getByTestId(admin ? 'sign-in-admin' : 'sign-in').click();
	await page.waitForURL(admin ? `${base}/admin/training` : `${base}/`);
	await page.getByTestId('signed-in-as').filter({ hasText: userId }).waitFor();
}

/** The bearer token the app holds (for verification calls as that user). */
export async function pageToken(page) {
	return page.evaluate(() => JSON.parse(localStorage.getItem('coach.session') ?? 'null')?.token ?? null);
}

/** Saves a PNG of the viewport under the screenshot dir. */
export async function shot(page, name, opts = {}) {
	mkdirSync(shotDir, { recursive: true });
	const path = join(shotDir, `${name}.png`);
	await page.screenshot({ path, animations: 'disabled', ...opts });
	return path;
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function until(what, fn, ms = timeout, every = 250) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		try {
			last = await fn();
			if (last) return last;
		} catch (e) {
			last = e;
		}
		await new Promise((r) => setTimeout(r, every));
	}
	throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/** Records checks of one scenario. */
export class Checks {
	constructor(name) {
		this.name = name;
		this.failures = [];
		this.count = 0;
	}

	/** Records a check; `ok` false fails the scenario (but the scenario goes on). */
	that(ok, what) {
		this.count += 1;
		console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
		if (!ok) this.failures.push(what);
		return ok;
	}

	/** Like `that`, but stops the scenario on failure. */
	must(ok, what) {
		if (!this.that(ok, what)) throw new Error(`required check failed: ${what}`);
	}
}

/** The common page checks: nothing fetched outside the app's origin, no uncaught errors. */
export function pageHygiene(c, { foreign, errors }) {
	c.that(foreign.length === 0, `no requests outside ${base}${foreign.length ? `: ${foreign.slice(0, 5).join(', ')}` : ''}`);
	c.that(errors.length === 0, `no uncaught page errors${errors.length ? `: ${errors.slice(0, 3).join(' | ')}` : ''}`);
}

/** The number in an element's text (e.g. "3" of "3 / 10"). */
export async function numberIn(locator) {
	const t = (await locator.textContent()) ?? '';
	const m = t.match(/-?\d+(\.\d+)?/);
	return m ? Number(m[0]) : NaN;
}

/** Picks an exercise in the workout form's picker: opens it, searches (`search`, default the id's
 *  words), taps the option with that id (or "Use …" for one not in the list). */
export async function pickExercise(page, id, { search } = {}) {
	const button = page.getByTestId('exercise-button');
	if ((await button.getAttribute('data-value')) === id && !search) return;
	if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
	await page.getByTestId('exercise-search').fill(search ?? id.replace(/_/g, ' '));
	await page.locator(`[data-testid="exercise-option"][data-value="${id}"], [data-testid="exercise-custom"][data-value="${id}"]`).first().click();
	await page.locator(`[data-testid="exercise-button"][data-value="${id}"]`).waitFor();
}

/** Fills the workout form and logs the set. */
export async function logSet(page, { exercise = 'bench_press', set = 3, weight = 80, reps = 8, rpe = 7, tags = [] } = {}) {
	const form = page.getByTestId('set-form');
	await pickExercise(page, exercise);
	await form.getByLabel('Set', { exact: true }).fill(String(set));
	await form.getByLabel('Weight (kg)').fill(String(weight));
	await form.getByLabel('Reps').fill(String(reps));
	await form.getByLabel('RPE (0–10)').fill(String(rpe));
	for (const t of ['Warm-up set', 'Final set', 'PR attempt', 'Max effort']) {
		await form.getByLabel(t).setChecked(tags.includes(t));
	}
	await page.getByTestId('log-set').click();
}

/** How many coach lines the workout page has shown so far. */
export async function lineSeq(page) {
	const r = page.getByTestId('last-result');
	if ((await r.count()) === 0) return 0;
	return Number((await r.getAttribute('data-seq')) ?? 0);
}

/** Waits for coach line number `seq` and returns what the page shows about it (spoken, cached,
 *  reason, the line, the newest toast's text). Does not wait for the speech to end. */
export async function coachLine(page, seq) {
	await page.locator(`[data-testid="last-result"][data-seq="${seq}"]`).waitFor();
	const r = page.getByTestId('last-result');
	const toast = page.getByTestId('toast-text').last();
	await toast.waitFor();
	return {
		spoken: (await r.getAttribute('data-spoken')) === 'true',
		cached: (await r.getAttribute('data-cached')) === 'true',
		reason: (await r.getAttribute('data-reason')) ?? '',
		line: ((await page.getByTestId('coach-line').textContent()) ?? '').trim(),
		toast: ((await toast.textContent()) ?? '').trim()
	};
}

/** Waits until the page is ready for the next set (speech over, button enabled). */
export async function setDone(page) {
	await page.waitForFunction(() => {
		const b = document.querySelector('[data-testid="log-set"]');
		const w = document.querySelector('[data-testid="wave"]');
		return b && !b.disabled && w && w.dataset.state === 'idle';
	}, null, { timeout: 60_000 });
}

/** Follows a link of the main navigation. */
export async function nav(page, name) {
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

/** Pixels the page overflows horizontally at `width` (0 = it reflows; wide tables scroll inside
 *  their own region). Restores the viewport afterwards. */
export async function overflowAt(page, width) {
	const before = page.viewportSize();
	await page.setViewportSize({ width, height: before?.height ?? 800 });
	await page.waitForTimeout(100);
	const px = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
	if (before) await page.setViewportSize(before);
	return px;
}
