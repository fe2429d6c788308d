"""Discoverability: the command palette (Ctrl+K) reaches pages, runs, run tabs and actions; the
Help menu lists the keyboard shortcuts and links the bundled docs."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.discover import DOCS_DIR, docs, shortcuts


def _palette(qtbot, window):
    window.activateWindow()
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: window.palette_dialog is not None and window.palette_dialog.isVisible(), timeout=5_000
    )
    return window.palette_dialog


def test_ctrl_k_goes_to_a_page_and_to_a_runs_tab(qtbot, window, submit, wait_status):
    name = submit("--points", "3")
    wait_status(window, name, "Completed")
    palette = _palette(qtbot, window)
    qtbot.keyClicks(palette.edit, "compu")
    assert palette.shown()[0] == "Compute"
    qtbot.keyClick(palette.edit, Qt.Key.Key_Return)
    assert window.current_page() == "compute"
    assert not palette.isVisible()

    palette = _palette(qtbot, window)
    qtbot.keyClicks(palette.edit, f"{name} logs")
    assert palette.shown() == [f"{name} ▸ Logs"]
    qtbot.keyClick(palette.edit, Qt.Key.Key_Return)
    assert window.current_page() == "run" and window.detail.name == name
    assert window.detail.tabs.currentWidget() is window.detail.logs

    palette = _palette(qtbot, window)
    qtbot.keyClicks(palette.edit, "re-run")
    assert palette.shown() == [f"Re-run {name}"]
    qtbot.keyClick(palette.edit, Qt.Key.Key_Escape)
    assert not palette.isVisible()


def test_help_lists_the_shortcuts_and_the_bundled_docs(window):
    keys = dict(shortcuts(window))
    assert "Ctrl+K" in keys and "Ctrl+O" in keys and "Ctrl+2" in keys
    assert keys["Ctrl+2"] == "View: Runs"
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    titles = [a.text() for a in help_menu.actions()]
    assert "Command &palette…" in titles and "&Keyboard shortcuts" in titles
    assert "The trainyard command" in titles  # docs/cli.md
    assert all(path.is_file() and path.parent == DOCS_DIR for _t, path in docs())
