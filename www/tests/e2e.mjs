#!/usr/bin/env node
// End-to-end tests of the Coach app in a real headless Chromium against a real coach-server
// (dev mode, the app served at /). `cargo xtask test` starts the server and runs this file.
//
//   COACH_BASE_URL=http://127.0.0.1:8080 node tests/e2e.mjs [scenario ...]
//
// Scenarios (in this order; name some to run only those): signin, workout, phone, textonly,
// settings, clone, offline, offlinesets, coldstart, storage, update, admin. `admin` trains a real
// model and waits for it to be deployed, so it runs last (a deployed model changes the coach's
// lines). Screenshots go to COACH_SCREENSHOTS_DIR (default www/test-results/screenshots;
// docs/screenshots to refresh the README's).
// COACH_E2E_TRAIN_WAIT_SECS (default 420) bounds the wait for the training session.
// Uses the system Chromium (CHROMIUM_PATH, default /usr/bin/chromium); never downloads a browser.

import { base, Checks, launch, shotDir } from './e2e/lib.mjs';

const all = ['signin', 'workout', 'phone', 'textonly', 'settings', 'clone', 'offline', 'offlinesets', 'coldstart', 'storage', 'update', 'admin'];
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
	console.error(`unknown scenario(s): ${unknown.join(', ')} (known: ${all.join(', ')})`);
	process.exit(2);
}
const run = wanted.length ? all.filter((s) => wanted.includes(s)) : all;

console.log(`e2e against ${base}; screenshots in ${shotDir}`);
const health = await fetch(`${base}/health`).catch(() => null);
if (!health?.ok) {
	console.error(`no Coach server answers at ${base}/health`);
	process.exit(1);
}

const browser = await launch();
const results = [];
const t0 = Date.now();
try {
	for (const name of run) {
		const mod = await import(`./e2e/${name}.mjs`);
		const c = new Checks(name);
		console.log(`\n--- ${name}: ${mod.title}`);
		const t = Date.now();
		try {
			await mod.default(browser, c);
		} catch (e) {
			c.that(false, `${name} stopped: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
		}
		const secs = (Date.now() - t) / 1000;
		results.push({ name, checks: c.count, failures: c.failures, secs });
		console.log(`--- ${name}: ${c.failures.length ? `${c.failures.length} FAILED` : 'passed'} (${c.count} checks, ${secs.toFixed(1)} s)`);
	}
} finally {
	await browser.close();
}

console.log('\n=== e2e summary');
for (const r of results) {
	console.log(`  ${r.failures.length ? 'FAIL' : 'ok  '} ${r.name.padEnd(9)} ${String(r.checks).padStart(3)} checks ${r.secs.toFixed(1).padStart(7)} s`);
}
const failed = results.filter((r) => r.failures.length);
console.log(`  total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
if (failed.length) {
	for (const r of failed) for (const f of r.failures) console.error(`FAILED ${r.name}: ${f}`);
	process.exit(1);
}
console.log('all e2e scenarios passed');
