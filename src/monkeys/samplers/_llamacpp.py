"""llama-cpp-python engine for the local sampler: one sample at a time, each with its own seed.

Optional (`pip install 'monkeys[llamacpp]'`); one `Llama` per model file per process.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from monkeys.core import Completion, Prompt, SampleRequest
from monkeys.errors import PluginError
from monkeys.extras import require

_LOCK = threading.Lock()
_MODELS: dict[tuple[str, int | None], LlamaEngine] = {}


def load_llama(path: str, *, threads: int | None = None, n_ctx: int = 4096) -> LlamaEngine:
    """The cached engine for `path`; a `PluginError` naming the install command if llama-cpp is missing."""
    require("llamacpp", "llama-cpp-python", what="sampler 'local' engine 'llamacpp'")
    try:
        import llama_cpp  # type: ignore[import-not-found]  # the optional llamacpp extra
    except ImportError as exc:  # installed but broken (a missing shared library)
        raise PluginError(f"sampler 'local' engine 'llamacpp': llama-cpp-python does not import ({exc}); "
                          "pip install --force-reinstall 'monkeys[llamacpp]'") from exc
    key = (os.path.realpath(path), threads)
    with _LOCK:
        if key not in _MODELS:
            llm = llama_cpp.Llama(model_path=key[0], n_ctx=n_ctx, n_threads=threads, n_batch=512,
                                  verbose=False)
            _MODELS[key] = LlamaEngine(llm)
        return _MODELS[key]


class LlamaEngine:
    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self._lock = threading.Lock()  # a Llama context is not thread-safe

    def complete(self, prompt: Prompt, req: SampleRequest, *, temperature: float, top_p: float,
                 max_tokens: int) -> Completion:
        """One seeded completion; the chat template comes from the GGUF when `prompt.messages` is set."""
        kw: dict[str, Any] = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens,
                              "stop": list(prompt.stop) or None, "seed": req.seed}
        t0 = time.perf_counter()
        with self._lock:
            if prompt.messages:
                out = self.llm.create_chat_completion(messages=list(prompt.messages), **kw)
                text = out["choices"][0]["message"]["content"] or ""
            else:
                out = self.llm.create_completion(prompt.text, **kw)
                text = out["choices"][0]["text"]
        usage = out.get("usage", {})
        return Completion(index=req.index, seed=req.seed, text=text,
                          prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)),
                          finish_reason=out["choices"][0].get("finish_reason") or "stop",
                          latency_s=time.perf_counter() - t0)
