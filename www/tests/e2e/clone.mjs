// The cloning wizard: fewer than 3 samples cannot be sent; a file that is not audio is refused by
// the server and the error names it; 3 real speech samples upload with a progress bar, the status
// is polled until the voice is ready and the preferences say so. Recording through MediaRecorder
// (Chromium's fake microphone) yields WAV samples the server accepts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, nav, openPage, pageHygiene, pageToken, shot, signIn, uid } from './lib.mjs';

export const title = 'voice cloning wizard: validation errors, upload progress, status polling, recording';

const PHRASES = [
	'Three more reps, keep your back straight and breathe out as you push.',
	'Good morning team, today we focus on strength and steady tempo.',
	'Last set of the day, give it everything you have left in the tank.'
];

/** Real speech samples (the machine's espeak-ng, also the server's local engine). */
function speechSamples(dir) {
	return PHRASES.map((text, i) => {
		const path = join(dir, `sample-${i + 1}.wav`);
		execFileSync(process.env.COACH_ESPEAK_BIN ?? 'espeak-ng', ['-v', 'en-us+m3', '-p', '40', '-w', path, text]);
		return path;
	});
}

export default async function (browser, c) {
	const dir = mkdtempSync(join(tmpdir(), 'coach-e2e-clone-'));
	const p = await openPage(browser);
	const { page } = p;
	try {
		const samples = speechSamples(dir);
		const notAudio = join(dir, 'notes.wav');
		writeFileSync(notAudio, 'these are my training notes, not audio\n'.repeat(50));

		await signIn(page, { userId: uid('e2e-clone'), premium: true });
		const token = await pageToken(page);
		await nav(page, 'Voice settings');
		const wizard = page.getByTestId('clone-wizard');
		await wizard.waitFor();
		const files = page.getByTestId('sample-files');

		await files.setInputFiles(samples.slice(0, 2));
		await page.getByTestId('sample-count').filter({ hasText: '2 of 3–10 samples — add 1 more' }).waitFor();
		c.that(await page.getByTestId('start-clone').isDisabled(), 'two samples: the wizard asks for one more and cannot start');

		await files.setInputFiles([notAudio]);
		await page.getByTestId('start-clone').click();
		const err = page.getByTestId('clone-error');
		await err.waitFor();
		const errText = (await err.textContent()) ?? '';
		c.that(/notes\.wav/.test(errText) && /audio/i.test(errText), `the server's refusal names the bad sample: "${errText.replace(/\s+/g, ' ').trim()}"`);
		c.that((await api('GET', '/v1/voice/clone/status', { token })).status === 404, 'nothing was started');

		await wizard.getByRole('button', { name: 'Remove notes.wav' }).click();
		await files.setInputFiles([samples[2]]);
		await page.getByTestId('sample-count').filter({ hasText: '3 of 3–10 samples' }).waitFor();
		await wizard.getByLabel('Voice name').fill('Coach me');
		await shot(page, 'clone-wizard');
		// record how the upload progress moved
		await page.evaluate(() => {
			window.__progress = [];
			const obs = new MutationObserver(() => {
				const el = document.querySelector('[data-testid="upload-progress"]');
				if (el) window.__progress.push(Number(el.getAttribute('value') ?? el.value));
			});
			obs.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value'] });
		});
		await page.getByTestId('start-clone').click();
		const status = page.getByTestId('clone-status');
		await status.waitFor();
		const progress = await page.evaluate(() => window.__progress);
		c.that(progress.length > 0 && Math.max(...progress) === 1, `the upload progress bar reached 100 % (${progress.slice(-3).join(', ')})`);
		await page.locator('[data-testid="clone-status"][data-status="completed"], [data-testid="clone-status"][data-status="failed"]').waitFor({ timeout: 60_000 });
		const final = await status.getAttribute('data-status');
		c.that(final === 'completed', `status polling saw the job finish: ${final} ${final === 'failed' ? await page.getByTestId('clone-error').textContent() : ''}`);
		await shot(page, 'clone-ready');
		const prefs = (await api('GET', '/v1/voice/preferences', { token })).json;
		c.that(prefs?.voiceCloneStatus === 'ready' && !!prefs.elevenLabsVoiceId, `the preferences say the voice is ready (${prefs?.voiceCloneStatus}, ${prefs?.elevenLabsVoiceId})`);

		// recording: three fake-microphone takes become WAV samples the server decodes (202)
		await page.getByRole('button', { name: 'Clone again' }).click();
		for (let i = 0; i < 3; i++) {
			await wizard.getByRole('button', { name: 'Record a sample' }).click();
			// takes of different lengths: the fake microphone's beeps repeat exactly, so two takes of
			// the same length can be the same bytes, which the server rightly refuses as a duplicate
			await page.waitForTimeout(1400 + 300 * i);
			await page.getByTestId('stop-recording').click();
			await page.getByTestId('sample-count').filter({ hasText: `${i + 1} of` }).waitFor();
		}
		const names = await wizard.locator('.sname').allTextContents();
		c.that(names.length === 3 && names.every((n) => n.endsWith('.wav')), `recordings are converted to WAV (${names.join(', ')})`);
		await page.getByTestId('start-clone').click();
		await page.locator('[data-testid="clone-status"], [data-testid="clone-error"]').first().waitFor({ timeout: 30_000 });
		const accepted = (await page.getByTestId('clone-status').count()) === 1;
		c.that(accepted, `the server accepted the recorded samples (202)${accepted ? '' : `: ${await page.getByTestId('clone-error').textContent()}`}`);
		if (accepted) {
			// a fake microphone plays beeps, not a voice: the job may finish either way; the wizard shows it
			await page.locator('[data-testid="clone-status"][data-status="completed"], [data-testid="clone-status"][data-status="failed"]').waitFor({ timeout: 60_000 });
			const s = await page.getByTestId('clone-status').getAttribute('data-status');
			const shown = s === 'failed' ? ((await page.getByTestId('clone-error').textContent()) ?? '') : 'ready';
			c.that(s === 'completed' || shown.trim().length > 0, `the recorded job's outcome is shown (${s}: ${shown.trim()})`);
		}
		pageHygiene(c, p);
	} finally {
		await p.context.close();
		rmSync(dir, { recursive: true, force: true });
	}
}
