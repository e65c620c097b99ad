import adapter from '@sveltejs/adapter-static';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  kit: {
    // The Rust server serves `build/` with an SPA fallback to index.html; precompress writes
    // .br/.gz next to every HTML, JS, CSS and wasm file, which it serves (server/src/www.rs).
    adapter: adapter({
      pages: 'build',
      assets: 'build',
      fallback: 'index.html',
      precompress: true,
      strict: true
    }),
    // src/service-worker.ts; the app registers it itself ($lib/updates.svelte.ts) to drive the
    // "new version ready" flow
    serviceWorker: { register: false }
  }
};

export default config;
