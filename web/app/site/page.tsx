'use client';
// Served for /sites/<id> by the API server (one shell page for every site).
import { SiteView } from '../../components/SiteView';

export default function SitePage() {
  return <SiteView mode="site" />;
}
