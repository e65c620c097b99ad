// The sign-in page: says it exists only in dev mode, keyboard reachable, signs in and out.
import { base, openPage, pageHygiene, shot, signIn, uid } from './lib.mjs';

export const title = 'dev-mode sign-in page, redirect, keyboard, sign-out';

export default async function (browser, c) {
	const p = await openPage(browser);
	const { page } = p;
	try {
		// the library page needs no sign-in
		await page.goto(`${base}/tools`);
		await page.getByTestId('wasm-version').filter({ hasText: /^v\d/ }).waitFor();
		await page.getByLabel('User id').fill('user-1');
		await page.getByTestId('hashed-id').filter({ hasText: 'c6c289e49e9c05b2145860387b73bcb18df43fb09a1e4a4a9713c76c88bb541b' }).waitFor();
		c.that(true, 'the library page hashes in the browser without signing in');
		await shot(page, 'library');

		await page.goto(`${base}/`);
		await page.waitForURL(/\/signin/);
		c.that(true, 'signed out, / redirects to the sign-in page');
		const notice = page.getByTestId('dev-notice');
		await notice.waitFor();
		const text = (await notice.textContent()) ?? '';
		c.that(/dev mode/i.test(text) && text.includes('COACH_DEV_MODE=1'), 'the page says dev sign-in exists only because the server runs in dev mode');
		c.that(
			(await page.getByRole('heading', { name: 'How sign-in works in production' }).count()) === 1 &&
				/admin API key/.test((await page.locator('#production').textContent()) ?? ''),
			'production sign-in (backend mints tokens with the admin key) is explained'
		);
		await shot(page, 'signin');

		// keyboard: the first Tab lands on the skip link, which is visible when focused
		await page.reload();
		await page.getByTestId('dev-notice').waitFor();
		await page.keyboard.press('Tab');
		const skip = await page.evaluate(() => document.activeElement?.textContent?.trim());
		c.that(skip === 'Skip to content', `the first Tab focuses the skip link (${skip})`);
		const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
		c.that(outline !== 'none', `focus is visible (outline ${outline})`);

		// sign in by keyboard: Enter in the user id field submits
		const id = uid('e2e-signin');
		await page.getByLabel('User id').fill(id);
		await page.getByLabel('User id').press('Enter');
		await page.waitForURL(`${base}/`);
		await page.getByTestId('signed-in-as').filter({ hasText: id }).waitFor();
		c.that(true, 'Enter signs in and opens the workout screen');
		const focused = await page.evaluate(() => document.activeElement?.tagName);
		c.that(focused === 'H1', `after navigation focus moves to the page heading (${focused})`);

		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.waitForURL(/\/signin/);
		c.that((await page.evaluate(() => localStorage.getItem('coach.session'))) === null, 'sign-out forgets the token');

		// an admin sign-in opens the dashboard
		await signIn(page, { userId: uid('e2e-admin'), admin: true });
		c.that((await page.getByRole('link', { name: 'Training' }).count()) === 1, 'admins get the Training link');
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
