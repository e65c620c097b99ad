// The app's side of the service worker (src/service-worker.ts): registers it, notices when a new
// version has installed and waits, and switches to it only when the user says so ("A new version
// is ready — Reload"): the page posts SKIP_WAITING to the waiting worker and reloads once that
// worker controls it. Without a click nothing changes versions, so a page never runs one
// version's JS against another version's files. See docs/architecture.md, "Offline app".

import { dev } from '$app/environment';

/** How often a long-open tab asks the server for a new worker (the browser also checks on each
 *  navigation). */
const CHECK_EVERY_MS = 60 * 60 * 1000;

class Updates {
	/** A new version has installed and waits for the user's go. */
	ready = $state(false);
	/** The page is controlled by a worker (the app will start offline next time). */
	controlled = $state(false);
	#registration: ServiceWorkerRegistration | null = null;

	/** Registers the worker (called once by the layout). */
	async start(): Promise<void> {
		if (!('serviceWorker' in navigator)) return;
		const sw = navigator.serviceWorker;
		this.controlled = sw.controller !== null;
		// A page that already had a worker reloads when another one takes over: that happens only
		// after a SKIP_WAITING (here or in another tab), i.e. a version switch. The first worker
		// claiming an uncontrolled page is no switch: its files are the ones this page runs.
		let hadController = sw.controller !== null;
		sw.addEventListener('controllerchange', () => {
			this.controlled = true;
			if (hadController) location.reload();
			hadController = true;
		});
		try {
			const reg = await sw.register('/service-worker.js', { type: dev ? 'module' : 'classic' });
			this.#registration = reg;
			if (reg.waiting && sw.controller) this.ready = true;
			reg.addEventListener('updatefound', () => {
				const worker = reg.installing;
				worker?.addEventListener('statechange', () => {
					if (worker.state === 'installed' && sw.controller) this.ready = true;
				});
			});
			setInterval(() => void this.check(), CHECK_EVERY_MS);
			addEventListener('online', () => void this.check());
		} catch (e) {
			console.warn('service worker registration failed', e);
		}
	}

	/** Asks the server whether a new worker exists. */
	async check(): Promise<void> {
		try {
			await this.#registration?.update();
		} catch {
			// offline, or the server answered an error: try again later
		}
	}

	/** The user's go: the waiting worker activates, and `controllerchange` reloads the page. */
	apply(): void {
		const waiting = this.#registration?.waiting;
		if (waiting) waiting.postMessage({ type: 'SKIP_WAITING' });
		else location.reload();
	}
}

/** The one update state of this tab. */
export const updates = new Updates();
