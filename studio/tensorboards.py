"""TensorBoard servers the studio started ("Open in TensorBoard"): one per selection of runs,
opened in the web browser, all ended when the studio closes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QWidget

from engine.api import Engine
from engine.tracking.tbserver import TensorBoardServer
from studio.tasks import BackgroundOp

__all__ = ["TensorBoards"]


def _open_in_browser(url: str) -> None:
    QDesktopServices.openUrl(QUrl(url))


class TensorBoards:
    def __init__(self, engine: Engine, open_url: Callable[[str], None] = _open_in_browser) -> None:
        self.engine = engine
        self.open_url = open_url
        self.servers: dict[tuple[str, ...], TensorBoardServer] = {}

    def open(self, parent: QWidget, names: Sequence[str]) -> BackgroundOp | None:
        """TensorBoard over these runs' logs: the one already started for them, else a new one."""
        key = tuple(sorted(names))
        running = self.servers.get(key)
        if running is not None and running.running():
            self.open_url(running.url)
            return None

        def started(server: TensorBoardServer) -> None:
            self.servers[key] = server
            self.open_url(server.url)

        what = names[0] if len(names) == 1 else f"{len(names)} runs"
        return (
            BackgroundOp(parent, lambda: self.engine.start_tensorboard(list(names)))
            .success(started)
            .with_progress(f"Starting TensorBoard for {what}…")
            .run()
        )

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
