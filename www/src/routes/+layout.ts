// A single-page app: the wasm package only runs in the browser (no SSR), and the Rust server
// serves `build/` with a fallback to index.html. adapter-static writes that index.html as the
// SPA fallback page; prerendering `/` as well would only produce the same shell and overwrite it
// (with a build warning), so nothing is prerendered.
export const ssr = false;
export const prerender = false;
