/**
 * The example's dev server (`npx vite examples/script-tag`, see README.md). Every path answers the page
 * (vite's SPA fallback, for the pushState router), and `/tally.js` and `/api/*` pass through to the Tally
 * server at TALLY_URL: the page loads the tracker from its own origin, so events go back there too, under
 * whatever host name the page is opened (a LAN address, a tunnel, a name in /etc/hosts).
 */
const tally = process.env.TALLY_URL || 'http://127.0.0.1:3000';

export default {
  server: {
    port: 8080,
    host: true, // every interface, so other machines and names reach it
    allowedHosts: true, // answer any Host header, not only localhost
    proxy: { '/tally.js': tally, '/api': tally },
  },
};
