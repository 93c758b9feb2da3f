"""Call the RAG deployment and return the answer with its citations."""

import os

from openai import OpenAI


def ask(question: str) -> tuple[str, list[dict]]:
    if not os.environ.get("RAG_DEPLOYMENT_ID"):  # running locally without an LLM: a stub
        return (
            f"(stub answer: no LLM is configured here; set RAG_DEPLOYMENT_ID) You said: {question}"
        ), []
    endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
    client = OpenAI(
        base_url=f"{endpoint}/deployments/{os.environ['RAG_DEPLOYMENT_ID']}/",
        api_key=os.environ["DATAROBOT_API_TOKEN"],
    )
    completion = client.chat.completions.create(
        model="datarobot-deployed-llm",
        messages=[{"role": "user", "content": question}],
    )
    extra = completion.model_extra or {}
    citations = [
        {
            "source": c.get("metadata", {}).get("source", "unknown"),
            "page": c.get("metadata", {}).get("page", "?"),
            "content": c.get("content", ""),
            "similarity": float(c.get("metadata", {}).get("similarity_score", 0.0)),
        }
        for c in extra.get("citations", [])
    ]
    return completion.choices[0].message.content or "", citations
