"""Model names a client may send that must never reach the filesystem or the hub.

Shared by the catalog's unit test and the HTTP tests: each is refused as not served,
however much it looks like a path, a URL, a hub id or the served name itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from conftest import REFERENCE_MODEL

LONG_NAME = "m" * 10_000


def hostile_model_names(model_dir: Path, *, served: str, alias: str) -> dict[str, str]:
    """Case id -> a model name that is neither ``served`` nor ``alias``.

    ``model_dir`` is the directory of the served model itself, so that its absolute and
    relative paths (a real, loadable model on disk) are among the names; others are near
    misses of the served name and its alias.
    """
    hub_cache = Path(os.environ.get("HF_HUB_CACHE", "~/.cache/huggingface/hub"))
    return {
        "absolute-path-of-the-served-model": str(model_dir),
        "relative-path-of-the-served-model": os.path.relpath(model_dir),
        "dot-relative-path": f"./{model_dir.name}",
        "parent-traversal": "../../etc/passwd",
        "absolute-system-file": "/etc/passwd",
        "home-cache": "~/.cache/huggingface",
        "the-hf-cache-root": str(hub_cache),
        "root-directory": "/",
        "current-directory": ".",
        "file-url": "file:///etc/passwd",
        "https-url": "https://huggingface.co/x/y",
        "hub-id-not-cached": "cross-encoder/ms-marco-MiniLM-L-6-v2",
        "hub-id-in-the-shared-cache": REFERENCE_MODEL,
        "empty": "",
        "blank": "   ",
        "ten-thousand-chars": LONG_NAME,
        "nul-byte": f"{served}\x00",
        "nul-then-path": f"{alias}\x00/../../etc/passwd",
        "newline": f"{served}\n",
        "header-injection": f"{served}\r\nX-Injected: 1",
        "case-variant": served.upper(),
        "padded": f" {served} ",
        "trailing-slash": f"{served}/",
        "alias-as-path": f"./{alias}",
    }
