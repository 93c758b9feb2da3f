"""Q&A chat over a DataRobot text-generation deployment."""

import json
import os

import streamlit as st
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


@st.cache_resource
def llm_client(deployment_id: str) -> OpenAI:
    endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
    return OpenAI(
        base_url=f"{endpoint}/deployments/{deployment_id}/",
        api_key=os.environ["DATAROBOT_API_TOKEN"],
    )


deployment_id = runtime_param("LLM_DEPLOYMENT_ID")
system_prompt = runtime_param("SYSTEM_PROMPT", "You are a helpful assistant.")
st.set_page_config(page_title="Q&A Chat", page_icon=":speech_balloon:")
st.title(runtime_param("APP_TITLE", "Ask me anything"))

if not deployment_id:
    st.info("No LLM_DEPLOYMENT_ID runtime parameter: answers are stubs until you set it.")

if "messages" not in st.session_state or st.sidebar.button("New chat"):
    st.session_state.messages = []

for message in st.session_state.messages:
    st.chat_message(message["role"]).markdown(message["content"])

if question := st.chat_input("Ask a question"):
    st.session_state.messages.append({"role": "user", "content": question})
    st.chat_message("user").markdown(question)
    with st.chat_message("assistant"):
        if deployment_id:
            stream = llm_client(deployment_id).chat.completions.create(
                model="datarobot-deployed-llm",
                messages=[{"role": "system", "content": system_prompt}, *st.session_state.messages],
                stream=True,
            )
            answer = st.write_stream(
                chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices
            )
        else:  # running locally without an LLM: a stub answer
            answer = (
                f"(stub answer: no LLM is configured here; set LLM_DEPLOYMENT_ID) "
                f"You said: {question}"
            )
            st.markdown(answer)
    st.session_state.messages.append({"role": "assistant", "content": answer})
    st.feedback("thumbs", key=f"feedback-{len(st.session_state.messages)}")
