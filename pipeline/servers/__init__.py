"""Model servers behind the OpenAI-compatible API (vLLM, Ollama, LM Studio, llama.cpp server):
options and presets, page images as data URLs, the request shapes per server, and an HTTP client
with timeouts, retries and a concurrency limit. Used by the `openai` engine."""
