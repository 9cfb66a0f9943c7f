"""Pull the program out of a model's text, and normalise programs for the verification cache.

Extraction follows the paper's harness: the first fenced code block (```python, ```py, ``` or any
other language tag), else the whole text. Normalisation drops comments and layout whitespace only.
"""

from __future__ import annotations

import hashlib
import io
import re
import tokenize

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str) -> str:
    """The first fenced block's body, or `text` itself when there is no fence."""
    match = _FENCE.search(text)
    return match.group(2) if match else text


def defines(code: str, name: str) -> bool:
    """Whether `code` defines (def/class/assignment at top level) `name`; textual, never executed."""
    pattern = rf"^(?:async\s+def|def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*="
    return re.search(pattern, code, re.MULTILINE) is not None


def normalise(code: str) -> str:
    """Token stream without comments and blank lines: equal for programs that differ only in layout.

    Falls back to stripping trailing whitespace and blank lines when the code does not tokenize
    (a syntax error still runs, to get its verdict, and still caches).
    """
    try:
        parts = []
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER):
                continue
            if tok.type == tokenize.INDENT:
                parts.append("\x01")
            elif tok.type == tokenize.DEDENT:
                parts.append("\x02")
            elif tok.type == tokenize.NEWLINE:
                parts.append("\n")
            else:
                parts.append(tok.string)
        return "\x00".join(parts)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def cache_key(program: str, *parts: str) -> str:
    """Algorithm-prefixed key of a normalised program plus whatever else decides the verdict."""
    h = hashlib.blake2b(digest_size=20)
    h.update(normalise(program).encode("utf-8", "surrogatepass"))
    for part in parts:
        h.update(b"\x00\xff")
        h.update(part.encode("utf-8", "surrogatepass"))
    return "b2:" + h.hexdigest()
