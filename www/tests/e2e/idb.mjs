// Helpers of the offline scenarios: what a page's origin holds, read in the page itself — the
// coach-wasm database of a user (raw IndexedDB, never creating or upgrading it) and the service
// worker's caches — so the checks observe storage, not the app's rendering of it.

import { dbName } from './lib.mjs';

export { dbName };

/** Records in `store` of the database `name`; -1 when the database or the store does not exist.
 *  Opening without a version never upgrades; a missing database is not created (the upgrade is
 *  aborted). */
export function idbCount(page, name, store) {
	return page.evaluate(
		([name, store]) =>
			new Promise((resolve, reject) => {
				const req = indexedDB.open(name);
				req.onupgradeneeded = () => req.transaction?.abort();
				req.onerror = () => resolve(-1);
				req.onsuccess = () => {
					const db = req.result;
					if (!db.objectStoreNames.contains(store)) {
						db.close();
						resolve(-1);
						return;
					}
					const q = db.transaction(store).objectStore(store).count();
					q.onsuccess = () => {
						db.close();
						resolve(q.result);
					};
					q.onerror = () => {
						db.close();
						reject(q.error);
					};
				};
			}),
		[name, store]
	);
}

/** Every record of `store` in the database `name` (`[]` when either does not exist). */
export function idbAll(page, name, store) {
	return page.evaluate(
		([name, store]) =>
			new Promise((resolve) => {
				const req = indexedDB.open(name);
				req.onupgradeneeded = () => req.transaction?.abort();
				req.onerror = () => resolve([]);
				req.onsuccess = () => {
					const db = req.result;
					if (!db.objectStoreNames.contains(store)) {
						db.close();
						resolve([]);
						return;
					}
					const q = db.transaction(store).objectStore(store).getAll();
					q.onsuccess = () => {
						db.close();
						resolve(q.result);
					};
					q.onerror = () => {
						db.close();
						resolve([]);
					};
				};
			}),
		[name, store]
	);
}

/** The clip records (metadata, no audio) of the database `name`. */
export const idbClips = (page, name) => idbAll(page, name, 'clips');

/** Deletes the database `name` (what a browser's eviction does); resolves once it is gone. The
 *  page must hold no connection to it (use a page of the origin that is not the app, e.g. /health). */
export function idbDelete(page, name) {
	return page.evaluate(
		(name) =>
			new Promise((resolve, reject) => {
				const req = indexedDB.deleteDatabase(name);
				req.onsuccess = () => resolve(true);
				req.onerror = () => reject(req.error);
				req.onblocked = () => reject(new Error(`deleting ${name} is blocked by an open connection`));
			}),
		name
	);
}

/** The app's service worker caches (`coach-app-<version>`) and the paths each holds. */
export function appCaches(page) {
	return page.evaluate(async () => {
		const out = {};
		for (const key of await caches.keys()) {
			if (!key.startsWith('coach-app-')) continue;
			const cache = await caches.open(key);
			out[key] = (await cache.keys()).map((r) => new URL(r.url).pathname);
		}
		return out;
	});
}
