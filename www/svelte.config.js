import adapter from '@sveltejs/adapter-static';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  kit: {
    // The Rust server serves `build/` with an SPA fallback to index.html.
    adapter: adapter({
      pages: 'build',
      assets: 'build',
      fallback: 'index.html',
      precompress: false,
      strict: true
    }),
    // src/service-worker.ts; the app registers it itself ($lib/updates.svelte.ts) to drive the
    // "new version ready" flow
    serviceWorker: { register: false }
  }
};

export default config;
