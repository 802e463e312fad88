import { defineConfig } from 'vite';

// The edge serves dist/ under a strict Content-Security-Policy (services/edge/src/web.ts): no inline script
// or style, no data: fonts. Everything below keeps the build to external, hashed files.
export default defineConfig({
  root: import.meta.dirname,
  // Client code resolves @relaycast/client's `browser` condition, so the `eventsource` package stays out.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline modulepreload polyfill; every asset is a file (never a data: URI the CSP would refuse for fonts).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev -w web` against an edge on :8080 (npm start).
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
});
