// What follows a set that waits in the outbox, for the cases offline.mjs (a consenting user, whose
// cached line becomes a training record) does not cover:
// * no consent: the cached line played offline is recorded as the set's voice interaction, naming
//   the workout the server creates on reconnect (the outbox's follow-up), exactly once;
// * online but the server unreachable (requests fail while navigator.onLine is true): the set is
//   queued with its key, the page adds the follow-up to the queued set, and after recovery one
//   workout and one interaction arrive;
// * no cached line at all: once the set is on the server the coach answers it (spoken), and its
//   interaction is recorded.
import { api, coachLine, dbName, logSet, openPage, pageHygiene, pageToken, setDone, signIn, uid, until } from './lib.mjs';
import { idbAll } from './idb.mjs';

export const title = 'queued sets: the offline line becomes the interaction, server unreachable, coaching after reconnect';

const outboxItems = (page, userId) => idbAll(page, dbName(userId), 'outbox');

const interactionsOf = async (token, id) => (await api('GET', `/v1/voice/interactions/workout/${id}`, { token })).json?.interactions ?? [];

export default async function (browser, c) {
	// no consent: the offline line becomes the set's interaction
	let p = await openPage(browser);
	try {
		const { page, context } = p;
		const userId = uid('e2e-queued');
		await signIn(page, { userId, premium: true, consent: false });
		await logSet(page, { exercise: 'front_squat', set: 1, weight: 70, reps: 5, rpe: 7 });
		const online = await coachLine(page, 1);
		c.must(online.spoken, `online line spoken and cached ("${online.line}")`);
		await setDone(page);

		await context.setOffline(true);
		await page.getByTestId('network-state').filter({ hasText: 'Offline' }).waitFor();
		await logSet(page, { exercise: 'front_squat', set: 2, weight: 70, reps: 5, rpe: 7 });
		const offline = await coachLine(page, 2);
		c.that(offline.cached && offline.spoken, `offline: the cached line plays (spoken=${offline.spoken} cached=${offline.cached})`);
		await setDone(page);
		await page.getByTestId('pending-count').filter({ hasText: /^1$/ }).waitFor();
		const items = await outboxItems(page, userId);
		const set = items.find((i) => i.kind === 'workout');
		c.that(
			items.length === 1 && set?.followUp?.interaction?.aiResponseText === offline.line && /^[0-9a-f-]{36}$/.test(set.followUp.idempotencyKey),
			`one queued item: the set, carrying its interaction with its own key (${items.map((i) => i.kind)})`
		);

		await context.setOffline(false);
		await page.getByTestId('outbox-count').filter({ hasText: /^0$/ }).waitFor();
		const token = await pageToken(page);
		const workouts = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
		const second = workouts.find((w) => w.setNumber === 2);
		c.that(workouts.length === 2 && !!second, `the set was created once (${workouts.length} workouts)`);
		if (second) {
			const said = await until('the interaction of the offline set', async () => {
				const l = await interactionsOf(token, second.id);
				return l.length ? l : null;
			});
			c.that(
				said.length === 1 && said[0].aiResponseText === offline.line && said[0].wasCached === true && said[0].wasVoicePlayed === true,
				`its interaction names the new workout: the cached line, played (${said.length}, cached=${said[0]?.wasCached})`
			);
		}

		// online, but the server cannot be reached: the set is queued, then the follow-up is added
		await page.route('**/v1/workouts', (r) => r.abort('internetdisconnected'));
		await logSet(page, { exercise: 'front_squat', set: 3, weight: 70, reps: 5, rpe: 7 });
		const unreachable = await coachLine(page, 3);
		c.that(unreachable.cached, `unreachable: a cached line plays (cached=${unreachable.cached})`);
		await setDone(page);
		await page.getByTestId('pending-count').filter({ hasText: /^1$/ }).waitFor();
		const queued = (await outboxItems(page, userId)).find((i) => i.kind === 'workout');
		c.that(queued?.lastError?.error === 'network_error' && !!queued?.followUp, `queued after a network error, with the follow-up added (${queued?.lastError?.error})`);
		await page.unroute('**/v1/workouts');
		await page.getByTestId('outbox-count').filter({ hasText: /^0$/ }).waitFor({ timeout: 30_000 });
		const after = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
		const third = after.filter((w) => w.setNumber === 3);
		c.that(after.length === 3 && third.length === 1, `after recovery: one more workout (${after.length})`);
		if (third[0]) {
			const said = await until('the interaction of set 3', async () => {
				const l = await interactionsOf(token, third[0].id);
				return l.length ? l : null;
			});
			c.that(said.length === 1 && said[0].aiResponseText === unreachable.line, `and one interaction for it (${said.length})`);
		}
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}

	// no cached line: the coach answers once the set is on the server
	p = await openPage(browser);
	try {
		const { page, context } = p;
		const userId = uid('e2e-queued-new');
		await signIn(page, { userId, premium: true, consent: false });
		await page.getByTestId('cache-entries').filter({ hasText: '0 / 10' }).waitFor();
		await context.setOffline(true);
		await page.getByTestId('network-state').filter({ hasText: 'Offline' }).waitFor();
		await logSet(page, { exercise: 'lunge', set: 1, weight: 20, reps: 10, rpe: 6 });
		await page.getByTestId('toast').filter({ hasText: 'No cached line to play yet.' }).waitFor();
		c.that(true, 'offline with an empty cache: the toast says the coach will answer later');
		await page.getByTestId('pending-count').filter({ hasText: /^1$/ }).waitFor();
		const items = await outboxItems(page, userId);
		c.that(items.length === 1 && items[0].meta?.coach === true && !items[0].followUp, 'the queued set asks for coaching on delivery (meta.coach)');
		await context.setOffline(false);
		const line = await coachLine(page, 1);
		c.that(line.line.length > 0 && line.toast === line.line, `back online: the coach answers the set, its line the newest toast ("${line.toast}")`);
		c.that(line.spoken, `and it is spoken (spoken=${line.spoken} ${line.reason})`);
		await setDone(page);
		await page.getByTestId('toast').filter({ hasText: 'Your saved sets were sent.' }).waitFor();
		c.that(true, 'a toast says the saved sets were sent');
		const token = await pageToken(page);
		const workouts = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
		c.that(workouts.length === 1, `one workout (${workouts.length})`);
		if (workouts[0]) {
			const said = await until('the coached interaction', async () => {
				const l = await interactionsOf(token, workouts[0].id);
				return l.length ? l : null;
			});
			c.that(said.length === 1 && said[0].aiResponseText === line.line, `the coaching was recorded for it (${said.length})`);
		}
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
