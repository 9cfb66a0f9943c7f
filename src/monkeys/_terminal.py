"""Text from run stores (model output, task ids, model names, verifier reasons) made safe to print on a
terminal.

Such text is adversarial: an escape sequence in it would reach the user's terminal, which obeys it (OSC 52
writes the clipboard, OSC 0 the window title, OSC 8 makes links, CSI moves the cursor and erases what was
printed), and `[...]` in it would be Rich markup (a link, or an unbalanced closing tag that stops the
command). `printable` shows every control character as its Python escape (`\\x1b`), so the text stays
readable and nothing in it is obeyed; `cell` is that as a Rich `Text`, which is never read as markup.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls (U+009B is CSI and U+009D is OSC to some terminals), and
# the bidirectional overrides and isolates, which reorder what is shown ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, one_line: bool = False) -> str:
    """`text` with every control character (and tab and newline too with `one_line`) written as its
    Python escape, so printing it cannot drive the terminal."""
    out = _CONTROL.sub(_shown, str(text))
    if one_line:
        out = out.replace("\t", "\\t").replace("\n", "\\n")
    return out


def cell(text: object) -> Text:
    """`text` for a Rich table or `console.print`: printable, and never parsed as markup."""
    from rich.text import Text

    return Text(printable(text))
