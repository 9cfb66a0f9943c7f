"""Pull the program out of a model's text, and key programs for the verification cache.

Extraction follows the paper's harness: the first fenced code block (```python, ```py, ``` or any
other language tag), else the whole text.
"""

from __future__ import annotations

import hashlib
import re


def extract_code(text: str) -> str:
    """The first fenced block's body (from the line after the first ``` that has one to the next ```, or
    the end), or `text` itself when there is no fence. Found by scanning, not by a pattern: a pattern's
    search backtracks quadratically over a long line of backticks (200,000 took 25 s)."""
    fence = text.find("```")
    line_end = text.find("\n", fence) if fence >= 0 else -1
    if line_end < 0:
        return text
    close = text.find("```", line_end + 1)
    return text[line_end + 1:] if close < 0 else text[line_end + 1:close]


def defines(code: str, name: str) -> bool:
    """Whether `code` defines (def/class/assignment at top level) `name`; textual, never executed."""
    pattern = rf"^(?:async\s+def|def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*="
    return re.search(pattern, code, re.MULTILINE) is not None


def cache_key(program: str, *parts: str) -> str:
    """Algorithm-prefixed key of the exact program text plus whatever else decides the verdict.

    Exact, not normalised: a normalisation (dropping comments, say) can differ from what the interpreter
    compiles, e.g. a `# coding: utf-7` cookie turns a "comment" into code. The text is encoded exactly as
    the sandbox encodes it to run it, so equal keys mean equal bytes compiled."""
    h = hashlib.blake2b(digest_size=20)
    h.update(program.encode("utf-8", "surrogatepass"))
    for part in parts:
        h.update(b"\x00\xff")
        h.update(len(part).to_bytes(8, "little"))
        h.update(part.encode("utf-8", "surrogatepass"))
    return "b2:" + h.hexdigest()
