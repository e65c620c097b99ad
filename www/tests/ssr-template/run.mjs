// The package in an app nobody here wrote (issue 11): a fresh SvelteKit project from the official
// template (SSR on, the default adapter), created at test time in a temp dir, installs coach-wasm
// the way wasm-client/README.md says and uses CoachClient, VoiceCache and speak() on a page.
// Run by `cargo xtask test` (step "SSR template app", xtask/src/test.rs), which starts the
// coach-server and passes:
//
//   COACH_API_URL  the server (dev mode; COACH_CORS_ORIGINS lists http://127.0.0.1:$APP_PORT)
//   APP_PORT       where `vite preview` serves the built app
//   COACH_WASM_PKG the built package (wasm-client/pkg)
//   SV             the pinned `sv` CLI (www/tools), WORK_DIR an empty temp dir
//
// Steps: `sv create --template minimal --types ts` (the official template; sv's templates ship in
// its npm package, no other download) → the committed lockfile (template's dependencies at pinned
// versions; template-package.json is what sv wrote when it was made) → `npm ci` → `npm pack` the
// package and `npm install` the tarball (what an app does with a published package) → the page
// (page.svelte) → `svelte-check` (the .d.ts in a strict project) → `vite build` → `vite preview`
// → the server-rendered HTML has the page (importing the package during SSR did not throw) → in
// Chromium the page hydrates, signs in, calls the API, speaks (synthesize, store, no playback)
// and finds the clip in its VoiceCache.
//
// After upgrading sv in www/tools: `sv create --template minimal --types ts --no-add-ons
// --no-install coach-ssr-app` in a temp dir, `npm install` there, and copy its package.json to
// template-package.json and its package-lock.json here.

import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const need = (k) => process.env[k] ?? fail(`${k} is not set (run through cargo xtask test)`);
const api = need('COACH_API_URL');
const port = need('APP_PORT');
const pkg = need('COACH_WASM_PKG');
const sv = need('SV');
const work = need('WORK_DIR');
const app = join(work, 'coach-ssr-app');

function fail(msg) {
	console.error(`SSR template test: ${msg}`);
	process.exit(1);
}
function run(cmd, args, cwd, env = {}) {
	console.log(`$ (${cwd}) ${cmd} ${args.join(' ')}`);
	return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } }).toString();
}

// 1. the official template, exactly as the pinned sv writes it
run(sv, ['create', '--template', 'minimal', '--types', 'ts', '--no-add-ons', '--no-install', 'coach-ssr-app'], work);
const written = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
const pinned = JSON.parse(readFileSync(join(here, 'template-package.json'), 'utf8'));
if (JSON.stringify(written) !== JSON.stringify(pinned)) {
	fail('sv wrote another package.json than template-package.json (sv was upgraded?): regenerate both (see the top of this file)');
}
copyFileSync(join(here, 'package-lock.json'), join(app, 'package-lock.json'));
run('npm', ['ci', '--no-audit', '--no-fund'], app);

// 2. the package, as the README says
const tarball = run('npm', ['pack', pkg, '--pack-destination', work], work).trim().split('\n').pop();
run('npm', ['install', '--no-audit', '--no-fund', join(work, tarball)], app);
const packed = readdirSync(join(app, 'node_modules/coach-wasm'));
for (const f of ['coach_wasm.js', 'coach_wasm_bg.wasm', 'coach_wasm.d.ts']) {
	if (!packed.includes(f)) fail(`the installed package lacks ${f} (package.json "files"?): ${packed.join(', ')}`);
}

// 3. the page, the type check, the production build (SSR on, adapter-auto)
copyFileSync(join(here, 'page.svelte'), join(app, 'src/routes/+page.svelte'));
const env = { VITE_COACH_API_URL: api };
run('npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--fail-on-warnings'], app, env);
run('npx', ['vite', 'build'], app, env);

// 4. serve it and look
const preview = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', port, '--strictPort'], {
	cwd: app,
	stdio: ['ignore', 'pipe', 'pipe'],
	detached: true
});
let log = '';
preview.stdout.on('data', (d) => (log += d));
preview.stderr.on('data', (d) => (log += d));
const url = `http://127.0.0.1:${port}/`;
let browser;
try {
	let html = null;
	for (let i = 0; i < 300 && html === null; i++) {
		const r = await fetch(url).catch(() => null);
		if (r) {
			if (r.status !== 200) fail(`the server-side render answered ${r.status}:\n${await r.text()}\n${log}`);
			html = await r.text();
		} else {
			await new Promise((ok) => setTimeout(ok, 100));
		}
	}
	if (html === null) fail(`vite preview did not answer:\n${log}`);
	for (const want of ['package imported: function, function', '<p id="status">server-rendered</p>']) {
		if (!html.includes(want)) fail(`the server-rendered page lacks ${JSON.stringify(want)}:\n${html}`);
	}
	console.log('SSR: the page rendered on the server with the package imported');

	browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
	const page = await browser.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	await page.goto(url);
	await page.waitForFunction(() => ['done', 'failed'].includes(document.querySelector('#status')?.textContent ?? ''), null, {
		timeout: 60_000
	});
	const status = await page.textContent('#status');
	const result = await page.textContent('#result');
	if (status !== 'done') fail(`in Chromium the page ended "${status}": ${result}\npage errors: ${errors.join('\n')}`);
	const r = JSON.parse(result);
	if (r.user !== 'ssr-template-user' || r.reason !== 'not_played' || !r.cacheKey || r.stored !== true) {
		fail(`unexpected result in Chromium: ${result}`);
	}
	if (errors.length) fail(`page errors: ${errors.join('\n')}`);
	console.log(`Chromium: hydrated, signed in, spoke (synthesized and stored ${r.cacheKey.slice(0, 12)}…), found it in VoiceCache`);
} finally {
	await browser?.close();
	try {
		process.kill(-preview.pid, 'SIGTERM');
	} catch {}
}
console.log('SSR template app: passed');
