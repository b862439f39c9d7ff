'use client';
// Served for /share/<token> by the API server: a site's dashboard, read-only, without log-in.
import { SiteView } from '../../components/SiteView';

export default function SharePage() {
  return <SiteView mode="share" />;
}
