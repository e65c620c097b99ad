// Storage that stays (issue 11): settings show the origin's storage estimate; saving voice
// settings as a premium user asks the browser to persist the data; and when the browser evicted
// the database anyway (deleted here with indexedDB.deleteDatabase, from a page of the origin that
// holds no connection), the next start rebuilds the voice cache from the server's index
// (`GET /v1/voice/cache`), texts included, so the clip plays offline again.
//
// Selectors relied on: the `storage`, `storage-usage`, `storage-quota`, `storage-persisted`,
// `save-voice`, `last-result`, `coach-line` test ids and the lib's `logSet`/`coachLine` helpers.
import { dbName, idbClips, idbCount, idbDelete } from './idb.mjs';
import { api, base, coachLine, logSet, nav, openPage, pageHygiene, pageToken, setDone, shot, signIn, uid, until } from './lib.mjs';

export const title = 'storage: estimate in settings, persist() on enabling voice, an evicted database is rebuilt';

export default async function (browser, c) {
	const p = await openPage(browser);
	const { page, context } = p;
	try {
		// count the app's persist() calls (the browser's answer is its own business)
		await context.addInitScript(() => {
			const s = navigator.storage;
			const persist = s.persist.bind(s);
			window.__persistCalls = 0;
			s.persist = () => {
				window.__persistCalls += 1;
				return persist();
			};
		});
		const userId = uid('e2e-storage');
		await signIn(page, { userId, premium: true });

		await nav(page, 'Voice settings');
		const card = page.getByTestId('storage');
		await card.waitFor();
		const usage = Number(await page.getByTestId('storage-usage').getAttribute('data-bytes'));
		const quota = Number(await page.getByTestId('storage-quota').getAttribute('data-bytes'));
		c.that(quota > 0 && usage >= 0 && usage <= quota, `settings show the storage estimate (${usage} of ${quota} bytes)`);
		await page.getByTestId('voice-enabled').setChecked(true);
		await page.getByTestId('save-voice').click();
		await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
		const calls = await until('a persist() call', () => page.evaluate(() => window.__persistCalls));
		c.that(calls >= 1, `saving with voice on (premium) asks navigator.storage.persist() (${calls} call)`);
		const persisted = await page.getByTestId('storage-persisted').getAttribute('data-persisted');
		c.that(persisted === 'true' || persisted === 'false', `the card shows whether the browser keeps the data (${persisted})`);
		await card.scrollIntoViewIfNeeded();
		await shot(page, 'settings-storage');

		await nav(page, 'Workout');
		await logSet(page, { exercise: 'deadlift', set: 1, weight: 140, reps: 3, rpe: 8 });
		const first = await coachLine(page, 1);
		c.must(first.spoken, `a line is spoken and cached ("${first.line}")`);
		await setDone(page);
		const token = await pageToken(page);
		const index = (await api('GET', '/v1/voice/cache', { token })).json;
		c.must(index.totalEntries === 1, `the server's index lists the clip (${index.totalEntries})`);
		const db = dbName(userId);

		// the browser evicts the database
		await page.goto(`${base}/health`);
		await idbDelete(page, db);
		c.that((await idbCount(page, db, 'clips')) === -1, 'the database is gone');

		await page.goto(`${base}/`);
		await page.getByTestId('signed-in-as').filter({ hasText: userId }).waitFor();
		const n = await until('the voice cache rebuilt', async () => ((await idbCount(page, db, 'clips')) === 1 ? 1 : null));
		c.that(n === 1, 'the next start rebuilds the voice cache from GET /v1/voice/cache');
		const [clip] = await idbClips(page, db);
		const entry = index.cacheEntries[0];
		c.that(clip?.key === entry.textHash && clip?.cacheId === entry.id, `the clip is back under the server's key (${clip?.key?.slice(0, 12)}…)`);
		c.that(clip?.text === first.line, `its line text is found again from the voice interactions ("${clip?.text}")`);
		c.that((await idbCount(page, db, 'audio')) === 1, 'its audio is stored');

		// the rebuilt clip plays offline as a cached line
		await context.setOffline(true);
		await logSet(page, { exercise: 'deadlift', set: 2, weight: 140, reps: 3, rpe: 9 });
		const offline = await coachLine(page, 1);
		c.that(offline.spoken && offline.cached && offline.line === first.line, `offline: the rebuilt clip plays (spoken=${offline.spoken} cached=${offline.cached})`);
		await setDone(page);
		await context.setOffline(false);
		pageHygiene(c, p);
	} finally {
		await context.close();
	}
}
