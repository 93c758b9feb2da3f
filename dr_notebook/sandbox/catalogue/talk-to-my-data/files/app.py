"""Talk to my Data: chat with a table through an LLM that writes pandas code."""

import pandas as pd
import streamlit as st
from analyst import ask_for_code, run_code

st.set_page_config(page_title="Talk to my Data", layout="wide")
st.title("Talk to my Data")

uploaded = st.sidebar.file_uploader("Upload a CSV", type="csv")
if uploaded is None:
    st.info("Upload a CSV file to start.")
    st.stop()
table = pd.read_csv(uploaded)
st.sidebar.dataframe(table.head(10))

st.session_state.setdefault("chat", [])
for turn in st.session_state.chat:
    st.chat_message(turn["role"]).markdown(turn["content"])

if question := st.chat_input("Which region grew fastest last quarter?"):
    st.chat_message("user").markdown(question)
    code = ask_for_code(question, table, st.session_state.chat)
    result = run_code(code, table)
    with st.chat_message("assistant"):
        st.code(code, language="python")
        if isinstance(result, pd.DataFrame | pd.Series):
            st.dataframe(result)
            if len(result) <= 50 and result.select_dtypes("number").shape[-1:] != (0,):
                st.bar_chart(result)
        else:
            st.markdown(f"**Answer:** {result}")
    st.session_state.chat += [
        {"role": "user", "content": question},
        {"role": "assistant", "content": f"```python\n{code}\n```"},
    ]
