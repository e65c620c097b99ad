// The toast always carries the coach's text: for a free user (voice is Premium), with voice turned
// off, and when the server answers 503 voice_unavailable (the speech provider is down: the route is
// answered by the test with the server's degraded-mode body). The wave stays still each time.
import { base, coachLine, logSet, nav, openPage, pageHygiene, setDone, shot, signIn, uid } from './lib.mjs';

export const title = 'text-only toasts: free user, voice off, 503 voice_unavailable';

export default async function (browser, c) {
	// free user
	let p = await openPage(browser);
	try {
		const { page } = p;
		await signIn(page, { userId: uid('e2e-free'), premium: false });
		await page.getByTestId('voice-summary').filter({ hasText: 'Free account' }).waitFor();
		c.that(true, 'free user: the screen says coach text only, voice is Premium');
		await logSet(page, { exercise: 'squat', set: 2, rpe: 6 });
		const r = await coachLine(page, 1);
		c.that(!r.spoken && r.reason === 'premium_required', `nothing spoken (reason ${r.reason})`);
		c.that(r.toast === r.line && r.line.length > 0, `the toast shows the text anyway: "${r.toast}"`);
		c.that((await page.getByTestId('toast').last().textContent())?.includes('Premium') ?? false, 'the toast says why it is text only');
		c.that((await page.getByTestId('wave').getAttribute('data-peak')) === '0.000', 'the wave stays still');
		await setDone(page);

		await nav(page, 'Voice settings');
		const note = page.getByTestId('premium-note');
		await note.waitFor();
		c.that(/premium_required/.test((await note.textContent()) ?? ''), 'voice settings explain the premium-only state (403 premium_required)');
		c.that(await page.getByTestId('save-voice').isDisabled(), 'voice controls are disabled for free users');
		c.that((await page.getByTestId('clone-wizard').count()) === 0, 'no cloning wizard for free users');
		await shot(page, 'settings-free');
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}

	// premium user with voice off, then a provider outage (503)
	p = await openPage(browser);
	try {
		const { page } = p;
		await signIn(page, { userId: uid('e2e-voiceoff'), premium: true });
		await nav(page, 'Voice settings');
		await page.getByTestId('voice-enabled').setChecked(false);
		await page.getByTestId('save-voice').click();
		await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
		await nav(page, 'Workout');
		await page.getByTestId('voice-summary').filter({ hasText: 'Voice is off' }).waitFor();
		await logSet(page, { exercise: 'deadlift', set: 1, rpe: 5 });
		const off = await coachLine(page, 1);
		c.that(!off.spoken && off.reason === 'voice_disabled', `voice off: nothing spoken (reason ${off.reason})`);
		c.that(off.toast === off.line && off.line.length > 0, `voice off: the toast shows the text: "${off.toast}"`);
		await setDone(page);

		// voice back on; the speech provider is down: the server's degraded answer is a 503
		await nav(page, 'Voice settings');
		await page.getByTestId('voice-enabled').setChecked(true);
		await page.getByTestId('save-voice').click();
		await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
		await nav(page, 'Workout');
		let synthCalls = 0;
		await page.route(`${base}/v1/voice/synthesize`, (route) => {
			synthCalls += 1;
			const text = JSON.parse(route.request().postData() ?? '{}').text ?? '';
			return route.fulfill({
				status: 503,
				headers: { 'content-type': 'application/json', 'retry-after': '30' },
				body: JSON.stringify({
					error: 'voice_unavailable',
					message: 'Voice is temporarily unavailable; show the text instead',
					details: { text, tone: 'neutral', provider: 'local', reason: 'test outage' },
					timestamp: new Date().toISOString()
				})
			});
		});
		await page.getByTestId('voice-summary').filter({ hasText: 'speaks your coaching' }).waitFor();
		await logSet(page, { exercise: 'overhead_press', set: 4, rpe: 8 });
		const down = await coachLine(page, 1);
		c.that(synthCalls === 1, `the app asked for synthesis once (${synthCalls})`);
		c.that(!down.spoken && down.reason === 'voice_unavailable', `503: nothing spoken (reason ${down.reason})`);
		c.that(down.toast === down.line && down.line.length > 0, `503: the toast shows the text: "${down.toast}"`);
		c.that((await page.getByTestId('toast').last().textContent())?.includes('503') ?? false, 'the toast says the voice service is unavailable');
		await shot(page, 'workout-text-only');
		await page.unroute(`${base}/v1/voice/synthesize`);
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
