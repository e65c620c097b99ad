// The workout flow with real audio: log a set → workout → coach → speak() (a real MP3 from the
// server's local speech engine, played in Chromium) with the sound wave moving on live levels and
// a toast with the text; the identical line again is a cache hit; interactions are recorded.
import { api, base, coachLine, lineSeq, logSet, numberIn, openPage, pageHygiene, pageToken, setDone, shot, signIn, uid, until } from './lib.mjs';

export const title = 'log a set, hear the coach (real audio, wave, toast), identical line = cache hit';

export default async function (browser, c) {
	const p = await openPage(browser);
	const { page } = p;
	try {
		const userId = uid('e2e-workout');
		await signIn(page, { userId, premium: true, consent: true });
		await page.getByTestId('voice-summary').filter({ hasText: 'speaks your coaching' }).waitFor();
		c.that(true, 'premium user: the screen says the coach speaks');
		const stats0 = await page.getByTestId('cache-entries').filter({ hasText: '/' }).textContent();
		c.that(stats0?.trim() === '0 / 10', `the voice cache starts empty (${stats0})`);

		// 1st set: synthesized, played, wave moves
		await logSet(page, { exercise: 'bench_press', set: 3, weight: 80, reps: 8, rpe: 7 });
		const first = await coachLine(page, 1);
		c.that(first.spoken && !first.cached, `the line was spoken, synthesized (spoken=${first.spoken} cached=${first.cached} ${first.reason})`);
		c.that(first.toast === first.line && first.line.length > 0, `a toast shows the line: "${first.toast}"`);
		const wave = page.getByTestId('wave');
		const speaking = await wave.getAttribute('data-state');
		const live = async () => Number(await wave.getAttribute('data-peak')) > 0.01 && Number(await wave.getAttribute('data-frames')) > 5;
		await until('live audio levels on the wave', live, 10_000).catch(() => null);
		const peak = Number(await wave.getAttribute('data-peak'));
		const frames = Number(await wave.getAttribute('data-frames'));
		c.that(speaking === 'speaking', `the wave animates while the coach speaks (${speaking})`);
		c.that(peak > 0.01 && frames > 5, `the wave is driven by real audio levels (peak ${peak}, ${frames} frames)`);
		await page.evaluate(() => window.scrollTo(0, 0));
		await shot(page, 'workout');
		await setDone(page);
		c.that((await wave.getAttribute('data-state')) === 'idle', 'the wave stops when the line ends');
		const entries1 = await numberIn(page.getByTestId('cache-entries'));
		c.that(entries1 === 1, `one clip cached after the first line (${entries1})`);

		// the identical set again: the same line, played from IndexedDB
		await logSet(page, { exercise: 'bench_press', set: 3, weight: 80, reps: 8, rpe: 7 });
		const second = await coachLine(page, 2);
		c.that(second.line === first.line, `the identical set gets the identical line ("${second.line}")`);
		c.that(second.spoken && second.cached, `the second identical line is a cache hit (spoken=${second.spoken} cached=${second.cached})`);
		await setDone(page);
		const hits = (await page.getByTestId('cache-hits').textContent())?.trim();
		const rate = (await page.getByTestId('cache-hit-rate').textContent())?.trim();
		c.that(hits === '1 / 1', `cache stats count the hit and the miss (hits / misses ${hits})`);
		c.that(rate === '50 %', `hit rate shown (${rate})`);

		// "Say it again": another hit
		const seq = await lineSeq(page);
		await page.getByTestId('say-again').click();
		const third = await coachLine(page, seq + 1);
		c.that(third.cached && third.line === first.line, 'Say it again plays the same clip from the cache');
		await setDone(page);
		c.that((await page.getByTestId('cache-hit-rate').textContent())?.trim() === '67 %', 'hit rate goes up (2 of 3)');

		// the server saw two workouts with one voice interaction each (sent through the outbox)
		const token = await pageToken(page);
		const workouts = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
		c.that(workouts.length === 2, `two workouts logged on the server (${workouts.length})`);
		for (const [i, w] of workouts.entries()) {
			const list = await until(`interaction of workout ${i + 1}`, async () => {
				const r = await api('GET', `/v1/voice/interactions/workout/${w.id}`, { token });
				return r.json?.interactions?.length ? r.json : null;
			});
			const it = list.interactions[0];
			c.that(it.wasVoicePlayed === true && it.aiResponseText === first.line, `interaction recorded for workout ${i + 1} (played, cached=${it.wasCached})`);
		}
		const cachedFlags = [];
		for (const w of workouts) {
			const r = await api('GET', `/v1/voice/interactions/workout/${w.id}`, { token });
			cachedFlags.push(r.json.interactions[0].wasCached);
		}
		c.that(cachedFlags.sort().join(',') === 'false,true', `one interaction says synthesized, the other cached (${cachedFlags})`);

		// a narrow screen: the layout reflows (no horizontal scrolling)
		await page.setViewportSize({ width: 390, height: 844 });
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
		c.that(overflow <= 0, `no horizontal scrolling at 390 px (${overflow} px overflow)`);
		await shot(page, 'workout-mobile', { fullPage: false });
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
