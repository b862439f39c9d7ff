// The dashboard is a static export served by the API's Fastify server (src/api/dashboard.ts):
// nothing runs on a Next.js server, and nothing is fetched from the internet at build or run time.
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: 'export',
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  productionBrowserSourceMaps: false,
  // The root package.json and lock file are this app's too (one `npm install`).
  turbopack: { root: new URL('..', import.meta.url).pathname },
};

export default nextConfig;
