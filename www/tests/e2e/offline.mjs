// Offline mode (the browser context goes offline: navigator.onLine false, requests fail): a set
// logged offline plays a cached line from IndexedDB with a toast, its training record waits in the
// package's outbox and arrives after reconnect (checked in the admin listing), and the set itself
// is created on the server once back online.
import { api, coachLine, devToken, logSet, openPage, pageHygiene, pageToken, setDone, sha256, shot, signIn, uid, until } from './lib.mjs';

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
		await page.getByTestId('outbox-count').filter({ hasText: /^1$/ }).waitFor();
		await page.getByTestId('pending-count').filter({ hasText: /^1$/ }).waitFor();
		c.that(true, 'the training record waits in the outbox, the set is saved locally');
		await setDone(page);
		await shot(page, 'workout-offline');
		const during = await listing();
		c.that(during.total === before.total, `nothing reached the server while offline (total ${during.total})`);

		await context.setOffline(false);
		await page.getByTestId('network-state').filter({ hasText: 'Online' }).waitFor();
		await page.getByTestId('outbox-count').filter({ hasText: /^0$/ }).waitFor();
		await page.getByTestId('pending-count').filter({ hasText: /^0$/ }).waitFor();
		c.that(true, 'back online: the outbox and the saved sets drain');
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
		c.that(workouts.length === 2 && workouts.some((w) => w.setNumber === 3), `the offline set was created on reconnect (${workouts.length} workouts)`);
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
