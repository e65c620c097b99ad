// Offline mode (the browser context goes offline: navigator.onLine false, requests fail): a set
// logged offline plays a cached line from IndexedDB with a toast; the set and its training record
// wait in the package's IndexedDB outbox with idempotency keys (nothing in localStorage) and
// arrive after reconnect (checked in the admin listing): the set is created once, and no voice
// interaction is recorded for it (the training record already carries the line).
import { api, coachLine, dbName, devToken, logSet, openPage, pageHygiene, pageToken, setDone, sha256, shot, signIn, uid, until } from './lib.mjs';
import { idbAll } from './idb.mjs';

export const title = 'offline: cached line plays, submission queued, arrives after reconnect';

export default async function (browser, c) {
	const p = await openPage(browser);
	const { page, context } = p;
	try {
		const userId = uid('e2e-offline');
		const admin = await devToken(uid('e2e-offline-admin'), { role: 'admin' });
		const listing = async () => (await api('GET', '/v1/ai-training/data?limit=100', { token: admin })).json;
		const before = await listing();

		await signIn(page, { userId, premium: true, consent: true });
		// online first: the coach's line is synthesized and cached in IndexedDB
		await logSet(page, { exercise: 'barbell_row', set: 2, weight: 60, reps: 10, rpe: 6 });
		const online = await coachLine(page, 1);
		c.must(online.spoken, `online line spoken and cached ("${online.line}")`);
		await setDone(page);

		await context.setOffline(true);
		await page.getByTestId('network-state').filter({ hasText: 'Offline' }).waitFor();
		c.that(true, 'the app notices it is offline');
		await logSet(page, { exercise: 'barbell_row', set: 3, weight: 60, reps: 10, rpe: 6 });
		const offline = await coachLine(page, 2);
		c.that(offline.toast.length > 0 && offline.toast === offline.line, `offline: a toast shows the line ("${offline.toast}")`);
		c.that(offline.spoken && offline.cached, `offline: the cached clip plays from IndexedDB (spoken=${offline.spoken} cached=${offline.cached})`);
		await page.getByTestId('outbox-count').filter({ hasText: /^2$/ }).waitFor();
		await page.getByTestId('pending-count').filter({ hasText: /^1$/ }).waitFor();
		c.that(true, 'the set and its training record wait in the outbox');
		await setDone(page);
		await shot(page, 'workout-offline');
		const during = await listing();
		c.that(during.total === before.total, `nothing reached the server while offline (total ${during.total})`);
		const stored = {
			items: await idbAll(page, dbName(userId), 'outbox'),
			local: await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('coach.pending')))
		};
		const set = stored.items.find((i) => i.kind === 'workout');
		c.that(
			!!set && /^[0-9a-f-]{36}$/.test(set.idempotencyKey) && JSON.parse(set.body).setNumber === 3 && stored.items.length === 2,
			`the set is an outbox item with its idempotency key (${stored.items.map((i) => i.kind).join(', ')})`
		);
		c.that(stored.local.length === 0, 'no set is kept in localStorage');

		await context.setOffline(false);
		await page.getByTestId('network-state').filter({ hasText: 'Online' }).waitFor();
		await page.getByTestId('outbox-count').filter({ hasText: /^0$/ }).waitFor();
		await page.getByTestId('pending-count').filter({ hasText: /^0$/ }).waitFor();
		c.that(true, 'back online: the outbox drains');
		const after = await until('the queued record in the admin listing', async () => {
			const l = await listing();
			return l.total === before.total + 1 ? l : null;
		});
		const row = after.records.find((r) => r.aiResponse === offline.line && r.exerciseType === 'barbell_row' && r.setNumber === 3);
		c.that(!!row, `the submission arrived after reconnect (admin listing: ${after.total} rows)`);
		if (row) {
			c.that(row.strainPercentage === 60, `strain estimated from RPE 6 (${row.strainPercentage})`);
			c.that(
				!JSON.stringify(row).includes(userId) && !JSON.stringify(row).includes(sha256(userId)),
				'the stored row carries neither the user id nor the browser-side hash (server re-keyed it)'
			);
		}
		const token = await pageToken(page);
		const workouts = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
		c.that(workouts.length === 2 && workouts.some((w) => w.setNumber === 3), `the offline set was created once on reconnect (${workouts.length} workouts)`);
		const offlineSet = workouts.find((w) => w.setNumber === 3);
		if (offlineSet) {
			const said = (await api('GET', `/v1/voice/interactions/workout/${offlineSet.id}`, { token })).json;
			c.that(said?.totalInteractions === 0, `no interaction for it: its training record carries the line (${said?.totalInteractions})`);
		}
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
