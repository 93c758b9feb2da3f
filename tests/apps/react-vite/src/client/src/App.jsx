import { useEffect, useState } from "react";

// The API is under the app's own URL: BASE_URL is the build's `--base` (`/$BASE_PATH`, which
// may or may not end with a slash).
const api = `${import.meta.env.BASE_URL.replace(/\/+$/, "")}/api/projects`;

export default function App() {
  const [projects, setProjects] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    fetch(api)
      .then((answer) => (answer.ok ? answer.json() : Promise.reject(new Error(answer.status))))
      .then(setProjects, (reason) => setError(String(reason)));
  }, []);
  return (
    <main>
      <h1>Rendered by React</h1>
      {error && <p role="alert">{error}</p>}
      {projects && (
        <ul aria-label="projects">
          {projects.map((project) => (
            <li key={project.id}>{project.name}</li>
          ))}
        </ul>
      )}
    </main>
  );
}
