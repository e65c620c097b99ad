// The admin training dashboard against the real pipeline: with ~70 consented training records in
// place (submitted through the API as a consenting user), an admin starts a session from the
// dashboard, watches it run (auto-refresh), and sees the trained model deployed, with metrics in
// the table and on the chart; rollback asks for a reason and shows the server's answer; the
// retention job runs on demand. The server trains a real model (COACH_TRAIN_BUDGET_SECS).
import { api, devToken, openPage, overflowAt, pageHygiene, sha256, shot, signIn, uid, until } from './lib.mjs';

export const title = 'admin dashboard: start a session, see the model deployed, deploy/rollback, retention';

const WAIT_MS = Number(process.env.COACH_E2E_TRAIN_WAIT_SECS ?? 420) * 1000;
const EXERCISES = ['bench_press', 'squat', 'deadlift', 'overhead_press', 'barbell_row', 'pull_up', 'lunge'];
const LINES = {
	whisper: [
		(ex, n) => `Breathe. Brace. Slow and controlled on set ${n} of ${ex}. You've got this.`,
		(ex) => `Easy now. Own every inch of this ${ex}, one rep at a time.`,
		(ex) => `Stay tight and quiet. Grind the ${ex} out, nice and slow.`
	],
	hype: [
		(ex, n) => `This is your moment on ${ex}! Set ${n}, full send. Let's go!`,
		(ex) => `New record territory on ${ex}! Attack it, right now!`,
		(ex) => `Huge energy! Smash this ${ex} and own the bar!`
	],
	neutral: [
		(ex, n) => `Solid work. Set ${n} of ${ex}: steady tempo, full range of motion.`,
		(ex) => `Good pace on ${ex}. Keep the form clean and rest two minutes.`,
		(ex) => `Nice set of ${ex}. Same weight next time, smooth reps.`
	]
};

/** A varied, consistent record: tags and strain that call for the line's tone. */
function record(i) {
	const ex = EXERCISES[i % EXERCISES.length];
	const n = (i % 6) + 1;
	const kind = ['whisper', 'hype', 'neutral'][i % 3];
	const name = ex.replace(/_/g, ' ');
	const line = LINES[kind][Math.floor(i / 3) % 3](name, n);
	const strain = kind === 'whisper' ? 82 + (i % 15) : kind === 'hype' ? 55 + (i % 20) : 35 + (i % 40);
	const tags = kind === 'whisper' ? ['high_strain', 'working_set'] : kind === 'hype' ? ['pr_attempt'] : strain >= 50 ? ['moderate_strain'] : ['low_strain'];
	return {
		exerciseType: ex,
		setNumber: n,
		strainPercentage: strain,
		sleepHours: 5 + (i % 4),
		skipReason: null,
		aiResponse: line,
		contextTags: tags,
		timestamp: new Date(Date.now() - (i + 1) * 60_000).toISOString()
	};
}

export default async function (browser, c) {
	// setup: consented training data, through the API (the workout screen submits the same way)
	const donor = uid('e2e-donor');
	const donorToken = await devToken(donor, { premium: false, consent: true });
	const hashedUserId = sha256(donor);
	let stored = 0;
	for (let i = 0; i < 70; i++) {
		const r = await api('POST', '/v1/ai-training/data', { token: donorToken, body: { hashedUserId, ...record(i) } });
		if (r.status === 201) stored += 1;
		else c.that(false, `training record ${i} refused: ${r.status} ${r.text}`);
	}
	c.must(stored === 70, `70 consented training records submitted (${stored})`);

	const p = await openPage(browser);
	const { page } = p;
	try {
		await signIn(page, { userId: uid('e2e-admin'), admin: true });
		const total = Number(await page.getByTestId('dataset-total').filter({ hasText: /\d/ }).textContent());
		const pending = Number(await page.getByTestId('dataset-pending').textContent());
		c.that(total >= 70 && pending >= 70, `the dashboard shows the dataset size (${total} rows, ${pending} pending)`);

		const batch = uid('e2e-batch');
		await page.getByTestId('batch-id').fill(batch);
		await page.getByTestId('start-session').click();
		const row = page.locator(`[data-testid="session-row"][data-batch="${batch}"]`);
		await row.waitFor();
		c.that(true, `the session appears in the table (${await row.getAttribute('data-status')})`);
		c.that(await page.getByTestId('start-session').isDisabled(), 'no second session can be started while one runs');

		// the table refreshes by itself: watch the statuses go by
		const seen = new Set();
		const t0 = Date.now();
		let shotTaken = false;
		const status = await until(
			'the session to finish',
			async () => {
				const s = await row.getAttribute('data-status');
				seen.add(s);
				if (!shotTaken && (s === 'training' || s === 'validation')) {
					shotTaken = true;
					await shot(page, 'admin-training-running');
				}
				return s === 'completed' || s === 'failed' ? s : null;
			},
			WAIT_MS,
			500
		);
		const note = (await row.locator('.note').textContent())?.trim();
		c.must(status === 'completed', `the session completed in ${((Date.now() - t0) / 1000).toFixed(0)} s (seen: ${[...seen].join(' → ')})${note ? `; note: ${note}` : ''}`);

		const model = page.locator(`[data-testid="model-row"]`).filter({ hasText: batch });
		await model.waitFor();
		const version = await model.getAttribute('data-version');
		let envs = (await model.getAttribute('data-envs')) ?? '';
		if (!envs.includes('production')) {
			// the gate held it back (status validating): an admin may deploy it by hand
			c.that(true, `the gate kept ${version} out of production (${await model.getAttribute('data-status')}); deploying by hand`);
			await model.getByRole('combobox').selectOption('production');
			await model.getByRole('button', { name: `Deploy ${version}` }).click();
			await page.locator(`[data-testid="model-row"][data-version="${version}"][data-envs*="production"]`).waitFor();
			envs = (await model.getAttribute('data-envs')) ?? '';
		}
		c.that(envs.includes('production') && (await model.getAttribute('data-status')) === 'deployed', `model ${version} is deployed to production`);
		c.that(((await page.getByTestId('live-models').textContent()) ?? '').includes(version), 'Serving now shows it');
		const metrics = await model.locator('td.num').allTextContents();
		c.that(metrics.slice(0, 2).every((m) => /^\d+\.\d+$/.test(m.trim())), `its metrics are listed (val/train loss ${metrics.slice(0, 2).join(' / ')})`);
		c.that((await page.getByTestId('loss-chart').locator('circle').count()) >= 2, 'the loss chart plots it');

		// staging too, through the deploy button
		await model.getByRole('combobox').selectOption('staging');
		await model.getByRole('button', { name: `Deploy ${version}` }).click();
		await page.locator(`[data-testid="model-row"][data-version="${version}"][data-envs*="staging"]`).waitFor();
		c.that(true, 'deploy to staging from the table');
		await page.mouse.move(0, 0);
		await shot(page, 'admin-training', { fullPage: true });

		// rollback asks for a reason; with nothing to go back to the server says so
		await model.getByRole('button', { name: `Roll back ${version}` }).click();
		const dialog = page.getByRole('dialog');
		await dialog.waitFor();
		c.that(await dialog.getByRole('button', { name: 'Roll back' }).isDisabled(), 'rollback needs a reason');
		await page.getByTestId('rollback-reason').fill('e2e: checking the rollback path');
		await dialog.getByRole('button', { name: 'Roll back' }).click();
		const answer = await Promise.race([
			page.getByTestId('rollback-error').waitFor().then(async () => `error: ${await page.getByTestId('rollback-error').textContent()}`),
			dialog.waitFor({ state: 'hidden' }).then(() => 'rolled back')
		]);
		const models = (await api('GET', '/v1/ai-training/models', { token: await devToken(uid('e2e-admin2'), { role: 'admin' }) })).json.models;
		const earlier = models.filter((m) => m.version !== version && m.performanceMetrics);
		c.that(
			earlier.length === 0 ? /rollback|nothing|previous/i.test(answer) : answer === 'rolled back',
			`rollback answer shown (${answer.trim()})`
		);
		if ((await dialog.count()) && (await dialog.isVisible())) await page.keyboard.press('Escape');

		await page.getByTestId('run-retention').click();
		const ret = page.getByTestId('retention-result');
		await ret.waitFor();
		c.that(/Removed \d+ training rows/.test((await ret.textContent()) ?? ''), `retention ran: ${(await ret.textContent())?.trim()}`);
		const px = await overflowAt(page, 320);
		c.that(px <= 0, `the dashboard reflows at 320 px, tables scroll in their own region (${px} px overflow)`);
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
