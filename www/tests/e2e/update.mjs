// The update flow of the service worker (issue 11): a new version is deployed — here the served
// build's service-worker.js is rewritten with another `version` (and restored afterwards), which is
// what a new build changes; a browser's worker-script fetch cannot be routed — and the browser
// installs it in the background and waits: the page keeps its version and shows "A new version
// is ready — Reload"; the click activates the new worker, the page reloads under it, and the old
// version's cache is gone. Needs the server to serve www/build (as `cargo xtask test` does;
// COACH_WWW_BUILD names another directory).
//
// Selectors relied on: the `update-ready` and `update-reload` test ids (the layout's banner).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appCaches } from './idb.mjs';
import { openPage, pageHygiene, signIn, uid } from './lib.mjs';

const buildDir = resolve(process.env.COACH_WWW_BUILD ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build'));

/** Deploys a worker whose version is `next` instead of `version`; returns the undo. Precompressed
 *  copies (`.br`, `.gz`) are moved aside so the server cannot serve the old bytes. */
function deployWorker(version, next) {
	const file = join(buildDir, 'service-worker.js');
	const original = readFileSync(file, 'utf8');
	if (!original.includes(version)) throw new Error(`${file} does not contain the version ${version}: not the build the server serves?`);
	const aside = ['.br', '.gz'].map((ext) => file + ext).filter((f) => existsSync(f));
	for (const f of aside) renameSync(f, `${f}.e2e-aside`);
	writeFileSync(file, original.replaceAll(version, next));
	return () => {
		writeFileSync(file, original);
		for (const f of aside) renameSync(`${f}.e2e-aside`, f);
	};
}

export const title = 'update: a new worker waits for the user, then replaces the old version and its cache';

export default async function (browser, c) {
	const p = await openPage(browser);
	const { page, context } = p;
	let undo = null;
	try {
		await signIn(page, { userId: uid('e2e-update') });
		await page.evaluate(() => navigator.serviceWorker.ready);
		await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
		const [old] = Object.keys(await appCaches(page));
		c.must(!!old, `the page runs version ${old}`);
		const version = old.slice('coach-app-'.length);
		const next = `${version}-next`;

		// the server now has a new worker: the same code with another version
		undo = deployWorker(version, next);
		await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
		await page.getByTestId('update-ready').waitFor();
		const waiting = await appCaches(page);
		c.that(!!waiting[`coach-app-${next}`] && !!waiting[old], 'the new version is precached while the old one still serves the page');
		c.that(
			(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting)),
			'the new worker waits (no skipWaiting on its own)'
		);
		c.that((await page.getByTestId('update-ready').textContent())?.includes('A new version is ready'), 'the page says a new version is ready');

		await Promise.all([page.waitForEvent('load'), page.getByTestId('update-reload').click()]);
		await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
		const after = Object.keys(await appCaches(page));
		c.that(after.length === 1 && after[0] === `coach-app-${next}`, `after Reload: only the new version's cache is left (${after.join(', ')})`);
		c.that((await page.getByTestId('update-ready').count()) === 0, 'no update banner after the switch');
		pageHygiene(c, p);
	} finally {
		undo?.();
		await context.close();
	}
}
