import { useEffect, useState } from "react";

export default function App() {
  const [deployments, setDeployments] = useState([]);
  const [error, setError] = useState(null);

  useEffect(() => {
    fetch("/api/deployments")
      .then((response) => response.json())
      .then((body) => setDeployments(body.data ?? []))
      .catch((err) => setError(err.message));
  }, []);

  return (
    <main>
      <h1>Your deployments</h1>
      {error && <p role="alert">{error}</p>}
      <ul>
        {deployments.map((deployment) => (
          <li key={deployment.id}>
            {deployment.label} <small>({deployment.id})</small>
          </li>
        ))}
      </ul>
    </main>
  );
}
