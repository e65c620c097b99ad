// Offline cold start (issue 11): one online visit installs the service worker and caches a spoken
// line; every page is closed, the browser context goes offline (pages and the worker alike), and a
// new page opens the app: the shell, JS, CSS and wasm come from the worker's cache, the signed-in
// workout screen renders with no network, a set logged there plays the cached line from
// IndexedDB, and the set and its training record wait locally — nothing reaches the server until
// the network is back, then both arrive (checked through the API, not the page).
//
// Selectors relied on: the `signed-in-as`, `set-form`, `log-set`, `last-result` (data-spoken,
// data-cached, data-seq), `coach-line`, `toast-text`, `app-wasm-version` test ids and the lib's
// `logSet`/`coachLine`/`setDone` helpers.
import { appCaches, dbName, idbCount } from './idb.mjs';
import { api, base, coachLine, devToken, logSet, openPage, pageHygiene, pageToken, setDone, shot, signIn, uid, until } from './lib.mjs';

export const title = 'offline cold start: a new page with no network renders, plays a cached line, queues, delivers';

export default async function (browser, c) {
	const p = await openPage(browser);
	const { page, context } = p;
	try {
		const userId = uid('e2e-cold');
		const admin = await devToken(uid('e2e-cold-admin'), { role: 'admin' });
		const listing = async () => (await api('GET', '/v1/ai-training/data?limit=100', { token: admin })).json;
		const before = await listing();

		// --- the one online visit
		await signIn(page, { userId, premium: true, consent: true });
		await page.evaluate(() => navigator.serviceWorker.ready);
		await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
		c.that(true, 'the service worker is active and controls the page');
		const cachesNow = await appCaches(page);
		const names = Object.keys(cachesNow);
		c.must(names.length === 1, `one versioned app cache (${names.join(', ') || 'none'})`);
		const paths = cachesNow[names[0]];
		c.that(paths.includes('/'), 'the app shell (/) is precached');
		c.that(
			paths.some((u) => u.startsWith('/_app/immutable/') && u.endsWith('.wasm')),
			`the coach-wasm .wasm is precached (${paths.filter((u) => u.endsWith('.wasm')).join(', ') || 'none'})`
		);
		c.that(paths.some((u) => u.endsWith('.js')) && paths.some((u) => u.endsWith('.css')), `JS and CSS are precached (${paths.length} files)`);
		c.that(!paths.some((u) => u.startsWith('/v1')), 'no API path in the service worker cache');

		await logSet(page, { exercise: 'squat', set: 1, weight: 100, reps: 5, rpe: 7 });
		const online = await coachLine(page, 1);
		c.must(online.spoken, `online: the line is spoken and cached ("${online.line}")`);
		await setDone(page);
		const token = await pageToken(page);
		const db = dbName(userId);
		c.must((await idbCount(page, db, 'clips')) === 1, 'one clip in IndexedDB');

		// --- every page closed, the network gone
		await page.close();
		c.that(context.pages().length === 0, 'no page left open');
		await context.setOffline(true);
		const page2 = await context.newPage();
		page2.on('pageerror', (e) => p.errors.push(e.message));
		page2.setDefaultTimeout(20_000);
		const res = await page2.goto(`${base}/`);
		c.that(!!res && res.fromServiceWorker(), `the navigation is answered by the service worker (status ${res?.status()})`);
		const pageFetch = await page2.evaluate(() => fetch('/health', { cache: 'no-store' }).then(() => 'reached', () => 'failed'));
		c.that(pageFetch === 'failed', `the page cannot reach the server (${pageFetch})`);
		const [worker] = context.serviceWorkers();
		const workerFetch = worker
			? await worker.evaluate(() => fetch('/health', { cache: 'no-store' }).then(() => 'reached', () => 'failed'))
			: 'no worker';
		c.that(workerFetch === 'failed', `the service worker cannot reach the server either (${workerFetch})`);

		await page2.getByTestId('signed-in-as').filter({ hasText: userId }).waitFor();
		await page2.getByTestId('app-wasm-version').filter({ hasText: /^v\d/ }).waitFor();
		await page2.getByTestId('set-form').waitFor();
		c.that(true, 'offline cold start: the signed-in workout screen renders, the wasm package loaded from the cache');

		await logSet(page2, { exercise: 'squat', set: 2, weight: 100, reps: 5, rpe: 8 });
		const cold = await coachLine(page2, 1);
		c.that(cold.spoken && cold.cached, `offline cold start: a cached line plays from IndexedDB (spoken=${cold.spoken} cached=${cold.cached}, "${cold.line}")`);
		c.that(cold.toast === cold.line && cold.line.length > 0, 'the toast shows the line');
		const queued = await until('the training record in the outbox', async () => {
			const n = await idbCount(page2, db, 'outbox');
			return n >= 1 ? n : null;
		});
		c.that(queued >= 1, `the training record (and the set) wait in the outbox (${queued} item(s))`);
		await setDone(page2);
		await shot(page2, 'workout-offline-cold-start');
		const during = await listing();
		c.that(during.total === before.total, `nothing reached the server while offline (training rows ${during.total})`);
		const workoutsDuring = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
		c.that(workoutsDuring.length === 1, `only the online set is on the server (${workoutsDuring.length})`);

		// --- the network is back
		await context.setOffline(false);
		const after = await until(
			'the queued training record on the server',
			async () => {
				const l = await listing();
				return l.records.find((r) => r.aiResponse === cold.line && r.exerciseType === 'squat' && r.setNumber === 2) ? l : null;
			},
			60_000
		);
		c.that(after.total === before.total + 1, `after reconnect: the training record arrived (${after.total - before.total} new row)`);
		const workouts = await until(
			'the offline set on the server',
			async () => {
				const w = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
				return w.some((x) => x.setNumber === 2 && x.exerciseType === 'squat') ? w : null;
			},
			60_000
		);
		c.that(workouts.length === 2, `after reconnect: the set logged offline was created (${workouts.length} workouts)`);
		const left = await until('the outbox to drain', async () => ((await idbCount(page2, db, 'outbox')) === 0 ? 'empty' : null), 60_000);
		c.that(left === 'empty', 'the outbox is empty');
		pageHygiene(c, p);
	} finally {
		await context.close();
	}
}
