// A static single-page app: the wasm package only runs in the browser, and the Rust server
// serves `build/` with a fallback to index.html.
export const ssr = false;
export const prerender = false;
