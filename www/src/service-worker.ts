// The app's service worker: it makes the app start with no network (issue 11). Policy (also in
// docs/architecture.md, "Offline app"):
//
// - install: precache this version's files — the app shell (`/`, the SPA fallback page), every
//   file Vite built (`build`: JS, CSS, the coach-wasm `.wasm`) and `static/` (`files`) — in one
//   cache named by `version`. A missing file fails the install, so a version is cached whole or
//   not at all.
// - activate: deletes the caches of other versions, then takes control of open pages.
// - fetch: only same-origin GETs of those precached files are answered, from this version's
//   cache; navigations get this version's cached shell (network only when the shell is missing).
//   Everything else — `/v1/*` (the API, clip URLs, the OpenAPI document), `/health`, `/ready`,
//   `/metrics` — is never intercepted: the coach-wasm package's IndexedDB cache and outbox own
//   offline data, and the API's answers never land in this cache.
// - update: a new version installs in the background and waits; the page shows "A new version is
//   ready — Reload" and posts `SKIP_WAITING` when the user agrees. The worker never skips waiting
//   on its own, so one page never runs two versions' files.

/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />

import { build, files, version } from '$service-worker';

const sw = self as unknown as ServiceWorkerGlobalScope;

/** Every cache of this app starts so; the rest of the origin's caches are not ours to delete. */
const PREFIX = 'coach-app-';
const CACHE = `${PREFIX}${version}`;
/** The SPA shell: the server answers `/` with the fallback page every route renders from. */
const SHELL = '/';
/** Paths the worker never answers (the API and the server's operational routes). */
const NEVER = [/^\/v1(\/|$)/, /^\/health$/, /^\/ready$/, /^\/metrics$/];

const ASSETS = [...build, ...files];
/** Where Vite puts content-hashed files (the server caches them for a year, `immutable`). */
const IMMUTABLE = '/_app/immutable/';
const PRECACHED = new Set([SHELL, ...ASSETS]);

sw.addEventListener('install', (event) => {
	event.waitUntil(
		(async () => {
			const cache = await caches.open(CACHE);
			// Hashed files (`/_app/immutable/…`) cannot be stale, so they may come from the HTTP
			// cache: the first visit's page already downloaded most of them, and precaching must
			// not download them a second time. Everything else (the shell, `static/` files, which
			// the server sends `no-cache`) comes straight from the server (`reload`).
			await cache.addAll(
				[SHELL, ...ASSETS].map((u) => new Request(u, { cache: u.startsWith(IMMUTABLE) ? 'default' : 'reload' }))
			);
		})()
	);
});

sw.addEventListener('activate', (event) => {
	event.waitUntil(
		(async () => {
			for (const key of await caches.keys()) {
				if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
			}
			await sw.clients.claim();
		})()
	);
});

sw.addEventListener('message', (event) => {
	if ((event.data as { type?: unknown } | null)?.type === 'SKIP_WAITING') void sw.skipWaiting();
});

/** What the worker answers: this version's precached files and, for navigations, its shell. */
function answers(request: Request): string | null {
	if (request.method !== 'GET') return null;
	const url = new URL(request.url);
	if (url.origin !== sw.location.origin) return null;
	if (NEVER.some((re) => re.test(url.pathname))) return null;
	if (PRECACHED.has(url.pathname)) return url.pathname;
	return request.mode === 'navigate' ? SHELL : null;
}

sw.addEventListener('fetch', (event) => {
	const key = answers(event.request);
	if (key === null) return; // the browser fetches it as if there were no worker
	event.respondWith(
		(async () => {
			const cache = await caches.open(CACHE);
			const hit = await cache.match(key);
			if (hit) return hit;
			// not cached (evicted by the browser, or a cache write failed): the network
			return fetch(event.request);
		})()
	);
});
