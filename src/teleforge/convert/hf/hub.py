"""``teleforge push``: upload an export folder to the Hugging Face Hub with a generated dataset card.

The endpoint comes from ``endpoint`` or ``HF_ENDPOINT`` (read at call time), so a
mirror or a local stand-in works without re-importing huggingface_hub.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from teleforge.convert.card import parse_card_header, render_card
from teleforge.convert.manifest import read_export_manifest
from teleforge.errors import HubError

CARD = "README.md"


@dataclass
class PushResult:
    """Where a push went: the repo, its URL, the commit and how many files it uploaded."""

    repo_id: str
    url: str
    commit: str | None
    files: int


def write_card(folder: Path | str, *, license: str = "apache-2.0", pretty_name: str | None = None,
               tags: list[str] | None = None) -> Path:
    """Write ``folder/README.md`` from the export's ``teleforge_export.json``; returns its path."""
    folder = Path(folder)
    manifest = read_export_manifest(folder)
    preview = manifest.get("preview")
    if preview and not (folder / preview).is_file():
        preview = None
    text = render_card(manifest, license=license, pretty_name=pretty_name or folder.name, extra_tags=tags, preview=preview)
    parse_card_header(text)  # refuse to upload a card the Hub would reject
    path = folder / CARD
    path.write_text(text, encoding="utf-8")
    return path


def push_export(folder: Path | str, repo_id: str, *, token: str | None = None, private: bool = False,
                endpoint: str | None = None, license: str = "apache-2.0", pretty_name: str | None = None,
                tags: list[str] | None = None, commit_message: str | None = None) -> PushResult:
    """Create the dataset repo (if new) and upload ``folder`` with a fresh card in one commit."""
    # lazy: huggingface_hub and its HTTP client load only when pushing
    try:  # huggingface_hub's HTTP client (httpx2 in 2.x): its transport errors are not OSErrors
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - older huggingface_hub
        import httpx  # type: ignore[no-redef]
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"{folder} is not a folder; export first with `teleforge export hf OUT`")
    if "/" not in repo_id:
        raise HubError(f"repo id {repo_id!r} must be 'owner/name' (your user or organization, then the dataset name)")
    write_card(folder, license=license, pretty_name=pretty_name, tags=tags)
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    api = HfApi(endpoint=endpoint, token=token)
    files = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
            commit_message=commit_message or f"Upload teleforge export {folder.name}",
            ignore_patterns=[".*", "**/.*"],
        )
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        hint = {401: "log in with `hf auth login` or pass --token", 403: "your token cannot write to that namespace"}.get(
            status or 0, "check the repo id and your network")
        raise HubError(f"pushing {folder} to {repo_id} failed ({status}): {hint}") from exc
    except (OSError, httpx.HTTPError) as exc:
        raise HubError(f"cannot reach the Hub at {api.endpoint} ({exc}); check your network or HF_ENDPOINT") from exc
    return PushResult(repo_id, str(url), getattr(info, "oid", None), files)
