"""Ask the LLM for pandas code and run it on the table."""

import json
import os

import pandas as pd
from openai import OpenAI


def runtime_param(name: str, default: str | None = None) -> str | None:
    """Read a DataRobot runtime parameter, falling back to a plain environment variable."""
    raw = os.environ.get(f"MLOPS_RUNTIME_PARAM_{name}")
    if raw is None:
        return os.environ.get(name, default)
    try:
        return json.loads(raw).get("payload", default)
    except (ValueError, AttributeError):
        return raw


PROMPT = """You are a data analyst. The pandas DataFrame `df` has these columns and dtypes:
{schema}
Sample rows:
{sample}
Write Python code that answers the question and stores the answer in a variable `result`.
Reply with code only, no explanations, no imports except pandas as pd."""


def ask_for_code(question: str, table: pd.DataFrame, chat: list[dict]) -> str:
    if not runtime_param("LLM_DEPLOYMENT_ID"):  # running locally without an LLM: a stub
        return "result = df.describe(include='all')  # stub: set LLM_DEPLOYMENT_ID for real code"
    endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
    llm = OpenAI(
        base_url=f"{endpoint}/deployments/{runtime_param('LLM_DEPLOYMENT_ID')}/",
        api_key=os.environ["DATAROBOT_API_TOKEN"],
    )
    system = PROMPT.format(schema=table.dtypes.to_string(), sample=table.head(5).to_csv())
    reply = llm.chat.completions.create(
        model="datarobot-deployed-llm",
        messages=[
            {"role": "system", "content": system},
            *chat,
            {"role": "user", "content": question},
        ],
        temperature=0,
    )
    code = reply.choices[0].message.content or ""
    return code.strip().removeprefix("```python").removesuffix("```").strip()


def run_code(code: str, table: pd.DataFrame):
    namespace = {"df": table.copy(), "pd": pd, "__builtins__": {"len": len, "round": round}}
    exec(compile(code, "<analysis>", "exec"), namespace)
    return namespace.get("result", "The code did not set `result`.")
