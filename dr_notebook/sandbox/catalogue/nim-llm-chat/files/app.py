"""Chat with an NVIDIA NIM deployment through its OpenAI-compatible API."""

import os
from collections.abc import Iterator

import streamlit as st
from openai import OpenAI


@st.cache_resource
def nim() -> OpenAI:
    return OpenAI(base_url=os.environ["NIM_BASE_URL"], api_key=os.environ["NIM_API_KEY"])


CONFIGURED = bool(os.environ.get("NIM_BASE_URL"))  # locally, without a NIM: stub answers


@st.cache_data(ttl=600)
def model_name() -> str:
    return nim().models.list().data[0].id if CONFIGURED else "stub (set NIM_BASE_URL)"


def stub(prompt: str) -> Iterator[str]:
    yield f"(stub answer: no NIM is configured here; set NIM_BASE_URL) You said: {prompt}"


st.set_page_config(page_title="NIM Chat", page_icon=":robot_face:")
st.title("NIM-hosted LLM Chat")
st.caption(f"Model: {model_name()}")

temperature = st.sidebar.slider(
    "Temperature", 0.0, 1.5, float(os.environ.get("DEFAULT_TEMPERATURE", "0.2"))
)
top_p = st.sidebar.slider("Top-p", 0.1, 1.0, 0.9)
max_tokens = st.sidebar.number_input("Max tokens", 64, 4096, 1024, step=64)

st.session_state.setdefault("messages", [])
for message in st.session_state.messages:
    st.chat_message(message["role"]).markdown(message["content"])

if prompt := st.chat_input("Message the model"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    st.chat_message("user").markdown(prompt)
    if not CONFIGURED:
        with st.chat_message("assistant"):
            answer = st.write_stream(stub(prompt))
        st.session_state.messages.append({"role": "assistant", "content": answer})
        st.stop()
    stream = nim().chat.completions.create(
        model=model_name(),
        messages=st.session_state.messages,
        stream=True,
        temperature=temperature,
        top_p=top_p,
        max_tokens=int(max_tokens),
        stream_options={"include_usage": True},
    )
    usage = None

    def tokens():
        global usage
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    with st.chat_message("assistant"):
        answer = st.write_stream(tokens())
        if usage:
            st.caption(f"{usage.prompt_tokens} prompt + {usage.completion_tokens} tokens")
    st.session_state.messages.append({"role": "assistant", "content": answer})
