// The workout screen on a phone (390 × 844, touch): the exercise is picked from a list — search by
// name or short form, the user's recent exercises first (remembered across a reload, from the
// server's logged sets), a name not in the list still usable — tap targets are at least 48 px, the
// toast never covers the log button, and the app is installable: the manifest parses, names a
// standalone app with theme colours, and its 192/512 icons (and maskable ones) load as real PNGs.
import { api, base, coachLine, openPage, pageHygiene, pageToken, pickExercise, setDone, shot, signIn, uid } from './lib.mjs';

export const title = 'phone: exercise picker (search, recent), 48 px targets, toast clear of the log button, manifest';

const intersects = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Width and height of a PNG (from its IHDR), or null when the bytes are not a PNG. */
function pngSize(buf) {
	const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
	if (buf.length < 24 || sig.some((b, i) => buf[i] !== b) || buf.toString('ascii', 12, 16) !== 'IHDR') return null;
	return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

async function manifestChecks(page, c) {
	const href = await page.locator('link[rel="manifest"]').getAttribute('href');
	c.must(!!href, `the page links a manifest (${href})`);
	const url = new URL(href, page.url()).href;
	const res = await fetch(url);
	const type = res.headers.get('content-type') ?? '';
	c.that(res.ok && /application\/(manifest\+)?json/.test(type), `the manifest is served (${res.status}, ${type})`);
	let m = null;
	try {
		m = JSON.parse(await res.text());
	} catch (e) {
		c.that(false, `the manifest parses: ${e.message}`);
		return;
	}
	c.that(m.name && m.short_name === 'Coach', `name "${m.name}", short_name "${m.short_name}"`);
	c.that(m.display === 'standalone' && new URL(m.start_url, url).pathname === '/', `opens standalone at / (display ${m.display}, start_url ${m.start_url})`);
	c.that(/^#[0-9a-f]{6}$/i.test(m.theme_color) && /^#[0-9a-f]{6}$/i.test(m.background_color), `theme ${m.theme_color}, background ${m.background_color}`);
	const theme = await page.locator('meta[name="theme-color"]').getAttribute('content');
	c.that(theme?.toLowerCase() === m.theme_color.toLowerCase(), `the page's theme-color matches (${theme})`);
	const want = [
		['192x192', 'any'],
		['512x512', 'any'],
		['192x192', 'maskable'],
		['512x512', 'maskable']
	];
	for (const [sizes, purpose] of want) {
		const icon = (m.icons ?? []).find((i) => i.sizes === sizes && (i.purpose ?? 'any').split(' ').includes(purpose));
		if (!c.that(!!icon, `an icon ${sizes} for "${purpose}"`)) continue;
		const r = await fetch(new URL(icon.src, url));
		const size = pngSize(Buffer.from(await r.arrayBuffer()));
		const [w, h] = sizes.split('x').map(Number);
		c.that(r.ok && icon.type === 'image/png' && size?.width === w && size?.height === h, `${icon.src} loads as a ${sizes} PNG (${r.status}, ${size ? `${size.width}×${size.height}` : 'not a PNG'})`);
	}
	const touch = await page.locator('link[rel="apple-touch-icon"]').getAttribute('href');
	const t = touch ? await fetch(new URL(touch, page.url())) : null;
	c.that(!!t?.ok && !!pngSize(Buffer.from(await t.arrayBuffer())), `an apple-touch-icon PNG (${touch})`);
}

/** Elements under 48 × 48 CSS px among the workout form's controls. */
async function smallTargets(page) {
	return page.evaluate(() => {
		const sel = '[data-testid="set-form"] button, [data-testid="set-form"] input, [data-testid="set-form"] select, [data-testid="set-form"] label.chip, [data-testid="set-form"] summary';
		const out = [];
		for (const el of document.querySelectorAll(sel)) {
			if (el.matches('label.chip input')) continue; // the whole chip is the target
			const r = el.getBoundingClientRect();
			if (r.width === 0 && r.height === 0) continue; // not shown (closed details)
			if (r.height < 47.5 || r.width < 47.5) out.push(`${el.tagName.toLowerCase()}[${el.getAttribute('aria-label') ?? el.textContent?.trim().slice(0, 20)}] ${Math.round(r.width)}×${Math.round(r.height)}`);
		}
		return out;
	});
}

export default async function (browser, c) {
	const p = await openPage(browser, { viewport: { width: 390, height: 844 } });
	const { page } = p;
	try {
		const userId = uid('e2e-phone');
		// a free account: the coach answers in text at once (no audio to wait for)
		await signIn(page, { userId, premium: false });
		await manifestChecks(page, c);

		// the picker: a list with human names, no id to type
		const button = page.getByTestId('exercise-button');
		c.that((await button.textContent())?.includes('Bench press'), `the exercise shows its name ("${(await button.textContent())?.trim()}")`);
		await button.click();
		const options = page.getByTestId('exercise-option');
		c.that((await options.count()) >= 20, `the list offers the exercises (${await options.count()})`);
		c.that((await page.getByTestId('recent-exercises').count()) === 0, 'a new user has no recent exercises yet');
		await page.getByTestId('exercise-search').fill('ohp');
		const first = await options.first().getAttribute('data-value');
		c.that(first === 'overhead_press', `searching "ohp" finds the overhead press first (${first})`);
		await options.first().click();
		c.that((await button.getAttribute('data-value')) === 'overhead_press' && (await button.textContent())?.includes('Overhead press'), 'tapping it picks it');
		const small = await smallTargets(page);
		c.that(small.length === 0, `every control of the form is at least 48 px (${small.join(', ') || 'all'})`);

		// log it: the toast and the log button do not overlap, both on screen
		await page.getByTestId('log-set').click();
		const r1 = await coachLine(page, 1);
		c.that(r1.toast.length > 0, `a toast shows the line ("${r1.toast}")`);
		const clear = async (when) => {
			const t = await page.getByTestId('toast').last().boundingBox();
			const b = await page.getByTestId('log-set').boundingBox();
			const inView = (r) => r && r.y >= 0 && r.y + r.height <= 844;
			c.that(!!t && !!b && !intersects(t, b) && inView(t) && inView(b), `${when}: the toast (y ${Math.round(t?.y)}–${Math.round((t?.y ?? 0) + (t?.height ?? 0))}) is clear of the log button (y ${Math.round(b?.y)}–${Math.round((b?.y ?? 0) + (b?.height ?? 0))})`);
		};
		await clear('after logging');
		await shot(page, 'workout-phone', { fullPage: false });
		await page.evaluate(() => window.scrollTo(0, 0));
		await clear('scrolled to the top');
		const small2 = await smallTargets(page);
		c.that(small2.length === 0, `still 48 px with a toast shown (${small2.join(', ') || 'all'})`);
		const close = await page.getByTestId('toast').last().getByRole('button', { name: 'Dismiss notification' }).boundingBox();
		c.that(!!close && close.width >= 47.5 && close.height >= 47.5, `the toast's dismiss button is a big target (${Math.round(close?.width)}×${Math.round(close?.height)})`);
		await setDone(page);

		// a second exercise, then the recent ones come first, newest first
		await pickExercise(page, 'squat', { search: 'back sq' });
		await page.getByTestId('log-set').click();
		await coachLine(page, 2);
		await setDone(page);
		await button.click();
		const recent = await page.getByTestId('recent-exercises').getByTestId('exercise-option').evaluateAll((els) => els.map((e) => e.dataset.value));
		c.that(recent.join(',') === 'squat,overhead_press', `recent exercises first, newest first (${recent})`);
		await page.getByTestId('exercise-search').fill('zercher squat');
		await page.getByTestId('exercise-custom').click();
		c.that((await button.getAttribute('data-value')) === 'zercher_squat', 'a name not in the list is still usable (zercher_squat)');
		await page.getByTestId('log-set').click();
		await coachLine(page, 3);
		await setDone(page);

		// a reload (and a new browser: the server's logged sets) keeps the recent list
		await page.reload();
		await page.locator('[data-testid="exercise-button"][data-value="zercher_squat"]').waitFor();
		c.that(true, 'after a reload the most recent exercise is preselected');
		const token = await pageToken(page);
		const p2 = await openPage(browser, { viewport: { width: 390, height: 844 } });
		try {
			await p2.page.goto(`${base}/signin`);
			await p2.page.evaluate((s) => localStorage.setItem('coach.session', s), await page.evaluate(() => localStorage.getItem('coach.session')));
			await p2.page.goto(`${base}/`);
			await p2.page.locator('[data-testid="exercise-button"][data-value="zercher_squat"]').waitFor();
			await p2.page.getByTestId('exercise-button').click();
			const fromServer = await p2.page.getByTestId('recent-exercises').getByTestId('exercise-option').evaluateAll((els) => els.map((e) => e.dataset.value));
			c.that(fromServer.join(',') === 'zercher_squat,squat,overhead_press', `another browser gets the recent list from the server (${fromServer})`);
		} finally {
			await p2.context.close();
		}
		const workouts = (await api('GET', '/v1/workouts', { token })).json?.workouts ?? [];
		c.that(workouts.map((w) => w.exerciseType).join(',') === 'zercher_squat,squat,overhead_press', `the server logged the picked ids (${workouts.map((w) => w.exerciseType)})`);
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
		c.that(overflow <= 0, `no horizontal scrolling at 390 px (${overflow} px overflow)`);
		pageHygiene(c, p);
	} finally {
		await p.context.close();
	}
}
