"""The `openai` engine: a model server behind the OpenAI-compatible API (vLLM, Ollama, LM Studio,
llama.cpp server). Options and presets, page images as data URLs, the request shapes per server,
and an HTTP client with timeouts, retries and a concurrency limit."""
