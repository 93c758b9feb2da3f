import { useEffect, useState } from "react";
import features from "./features.json";

const baseline = Object.fromEntries(features.map((f) => [f.name, f.baseline]));

export default function App() {
  const [inputs, setInputs] = useState(baseline);
  const [prediction, setPrediction] = useState(null);
  const [saved, setSaved] = useState([]);

  useEffect(() => {
    const timer = setTimeout(async () => {
      const response = await fetch("/api/score", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(inputs),
      });
      const body = await response.json();
      setPrediction(body.prediction ?? null);
    }, 300);
    return () => clearTimeout(timer);
  }, [inputs]);

  const update = (name, value) => setInputs({ ...inputs, [name]: value });

  return (
    <main>
      <h1>What-if Simulator</h1>
      {features.map((f) => (
        <label key={f.name}>
          {f.name}
          {f.type === "number" ? (
            <input type="range" min={f.min} max={f.max} step={f.step} value={inputs[f.name]}
              onChange={(e) => update(f.name, Number(e.target.value))} />
          ) : (
            <select value={inputs[f.name]} onChange={(e) => update(f.name, e.target.value)}>
              {f.options.map((o) => <option key={o}>{o}</option>)}
            </select>
          )}
          <output>{inputs[f.name]}</output>
        </label>
      ))}
      <p>Prediction: <strong>{prediction ?? "..."}</strong></p>
      <button onClick={() => setSaved([...saved, { inputs, prediction }])}>Save scenario</button>
      <table>
        <tbody>
          {saved.map((s, i) => (
            <tr key={i}><td>Scenario {i + 1}</td><td>{s.prediction}</td></tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
