// Voice settings: personality, tone adaptation and accessibility mode persist (PUT, then a reload
// and the API agree); accessibility mode gives a haptic pulse on the workout screen; consent
// toggles; "delete my data" asks first, then removes the user on the server and in the browser.
import { api, coachLine, devToken, logSet, nav, openPage, overflowAt, pageHygiene, pageToken, setDone, shot, signIn, uid, until } from './lib.mjs';

export const title = 'voice preferences, accessibility haptics, consent, delete my data';

export default async function (browser, c) {
	const p = await openPage(browser);
	const { page } = p;
	try {
		const userId = uid('e2e-settings');
		await signIn(page, { userId, premium: true, consent: false, name: 'Dana Settings' });
		const token = await pageToken(page);
		await nav(page, 'Voice settings');
		await page.getByTestId('voice-prefs').waitFor();
		c.that(
			(await api('GET', '/v1/voice/preferences', { token })).status === 404,
			'no preferences stored before the first save (the form shows the defaults)'
		);
		await page.getByRole('radio', { name: 'Aiden' }).check();
		await page.getByLabel(/Adapt the tone/).setChecked(false);
		await page.getByTestId('accessibility-mode').setChecked(true);
		await page.getByTestId('save-voice').click();
		await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
		const prefs = (await api('GET', '/v1/voice/preferences', { token })).json;
		c.that(
			prefs?.personality === 'Aiden' && prefs.toneAdaptation === false && prefs.accessibilityMode === true && prefs.voiceEnabled === true,
			`PUT /v1/voice/preferences stored them (${JSON.stringify(prefs && { p: prefs.personality, t: prefs.toneAdaptation, a: prefs.accessibilityMode })})`
		);
		await page.reload();
		await page.getByTestId('voice-prefs').waitFor();
		await page.waitForFunction(() => document.querySelector('input[value="Aiden"]')?.checked === true);
		c.that(await page.getByTestId('accessibility-mode').isChecked(), 'the saved settings are shown after a reload');
		await shot(page, 'settings');
		const px = await overflowAt(page, 320);
		c.that(px <= 0, `voice settings reflow at 320 px (${px} px overflow)`);

		// accessibility mode: the line comes with a haptic pulse
		await nav(page, 'Workout');
		await page.getByTestId('voice-summary').filter({ hasText: 'Aiden speaks your coaching, with haptic pulses' }).waitFor();
		c.that(true, 'the workout screen reflects the settings (Aiden, haptic pulses, no adaptation)');
		await page.evaluate(() => {
			window.__vibrations = [];
			const orig = navigator.vibrate?.bind(navigator);
			navigator.vibrate = (pattern) => {
				window.__vibrations.push(pattern);
				return orig ? orig(pattern) : true;
			};
		});
		await logSet(page, { exercise: 'lunge', set: 2, rpe: 6 });
		const r = await coachLine(page, 1);
		c.that(r.spoken, 'the line is spoken in Aiden\'s voice');
		await page.getByTestId('haptic').waitFor();
		const vibrations = await page.evaluate(() => window.__vibrations.length);
		c.that(vibrations >= 1, `a haptic pulse was sent through navigator.vibrate (${vibrations})`);
		await setDone(page);

		// consent
		await nav(page, 'Voice settings');
		const consent = page.getByTestId('consent');
		await consent.waitFor();
		c.that(!(await consent.isChecked()), 'consent starts off');
		await consent.check();
		await page.getByTestId('toast').filter({ hasText: 'Data sharing' }).waitFor();
		c.that((await api('GET', '/v1/users/me', { token })).json?.dataCollectionConsent === true, 'consent on (PUT /v1/users/me/consent)');
		await consent.uncheck();
		const off = await until('consent off on the server', async () => (await api('GET', '/v1/users/me', { token })).json?.dataCollectionConsent === false, 5000).catch(() => false);
		c.that(off, 'consent off again');

		// delete my data: cancel first, then confirm
		const dbName = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name).find((n) => n?.startsWith('coach-wasm:')));
		c.that(!!dbName, `the browser holds the user's local database (${dbName})`);
		await page.getByTestId('delete-data').click();
		const dialog = page.getByRole('dialog', { name: 'Delete all your data?' });
		await dialog.waitFor();
		c.that((await page.evaluate(() => document.activeElement?.textContent?.trim())) === 'Cancel', 'the dialog opens with focus on Cancel');
		await shot(page, 'delete-dialog');
		await page.keyboard.press('Escape');
		await dialog.waitFor({ state: 'hidden' });
		c.that((await api('GET', '/v1/users/me', { token })).status === 200, 'Escape cancels: nothing deleted');
		await page.getByTestId('delete-data').click();
		await dialog.waitFor();
		c.that(await dialog.getByRole('button', { name: 'Delete everything' }).isDisabled(), 'deletion needs the typed confirmation');
		await page.getByTestId('confirm-text').fill('DELETE');
		await dialog.getByRole('button', { name: 'Delete everything' }).click();
		await page.waitForURL(/\/signin/);
		const msg = (await page.getByRole('status').first().textContent()) ?? '';
		c.that(/deleted/.test(msg), `signed out with a confirmation ("${msg.trim()}")`);
		const me = await api('GET', '/v1/users/me', { token });
		c.that(me.status === 401 || me.status === 404, `the server no longer knows the user (${me.status})`);
		const admin = await devToken(uid('e2e-settings-admin'), { role: 'admin' });
		c.that((await api('GET', `/v1/users/${userId}`, { token: admin })).status === 404, 'the admin view agrees: the user is gone');
		const left = await page.evaluate(async (n) => (await indexedDB.databases()).some((d) => d.name === n), dbName);
		c.that(!left, 'the local database (voice cache, outbox) was deleted too');
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
