export default function NotFound() {
  return (
    <main className="wrap">
      <h1>Not found</h1>
      <p>
        <a href="/">Back to the dashboard</a>
      </p>
    </main>
  );
}
