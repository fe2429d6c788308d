"""`trainyard://` links: what `run.get_portal_url()` returns and the studio opens.

    trainyard://runs/NAME?workspace=/path/to/workspace

The workspace travels in the link because a desktop may hold several; without it the studio
opens the run in the default workspace.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from engine.errors import TrainyardError

SCHEME = "trainyard"


def run_link(run_name: str, workspace_folder: str | Path | None = None) -> str:
    link = f"{SCHEME}://runs/{quote(run_name, safe='')}"
    if workspace_folder is not None:
        link += f"?workspace={quote(str(workspace_folder), safe='/')}"
    return link


def workspace_of_run_dir(run_dir: str | Path) -> Path | None:
    """The workspace folder holding a run folder `<workspace>/.trainyard/runs/NAME`, if it is one."""
    from engine.workspace import STORAGE_DIR

    p = Path(run_dir)
    if p.parent.name == "runs" and p.parent.parent.name == STORAGE_DIR:
        return p.parent.parent.parent
    return None


def is_link(text: str) -> bool:
    return text.startswith(f"{SCHEME}://")


def parse_link(link: str) -> tuple[str, str | None]:
    """(run name, workspace folder or None) of a `trainyard://runs/NAME` link."""
    parts = urlsplit(link)
    name = unquote(parts.path.strip("/"))
    if parts.scheme != SCHEME or parts.netloc != "runs" or not name or "/" in name:
        raise TrainyardError(f"not a Trainyard run link: {link!r}",
                             "links look like trainyard://runs/NAME?workspace=PATH (run.get_portal_url())")
    workspace = parse_qs(parts.query).get("workspace", [None])[0]
    return name, workspace
