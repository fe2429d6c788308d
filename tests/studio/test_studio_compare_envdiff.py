"""Compare's Environment & code tab: two real runs built from environments that resolve to
different package versions; the tab names the changed package first, as `trainyard job diff` does."""

from __future__ import annotations

import base64
import hashlib
import os
import textwrap
import zipfile
from pathlib import Path

from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from studio.compare.view import CompareView


def wheel(folder: Path, name: str, version: str) -> None:
    """A pure-Python wheel of module `name` whose __version__ is `version` (a local index)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{p},{digest(d)},{len(d)}\n" for p, d in files.items()) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        for p, d in files.items():
            zf.writestr(p, d)
        zf.writestr(f"{info}/RECORD", record)


def test_environment_tab_names_the_changed_package_and_the_code(qtbot, window, engine, tmp_path):
    index = tmp_path / "index"
    wheel(index, "tinypkg", "1.0")
    wheel(index, "tinypkg", "1.1")
    for env, version in (("tiny-old", "1.0"), ("tiny-new", "1.1")):
        engine.register_environment(
            EnvironmentSpec(
                name=env, pip_requirements=("--no-index", f"--find-links {index}", f"tinypkg=={version}")
            )
        )
    code = tmp_path / "code"
    code.mkdir()
    main = code / "main.py"
    main.write_text("import tinypkg\nprint('tinypkg', tinypkg.__version__)\n")
    old = engine.submit(
        JobSpec(experiment_name="locks", code_dir=code, script="main.py", environment="tiny-old")
    ).name
    main.write_text(
        textwrap.dedent("""\
        import tinypkg
        print('tinypkg', tinypkg.__version__)
        print('and one more line')
    """)
    )
    new = engine.submit(
        JobSpec(experiment_name="locks", code_dir=code, script="main.py", environment="tiny-new")
    ).name
    for name in (old, new):
        assert engine.wait(name, timeout=240).status == "Completed"

    view = CompareView(engine, window.bridge, [old, new])
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.show()
    view.show_tab("environment")
    panel = view.env_diff
    qtbot.waitUntil(view.is_ready, timeout=30_000)

    sections = panel.rows()
    titles = [t.split("  ·  ")[0] for t, _rows in sections]
    assert titles[0] == "Packages"  # differences first, packages before everything
    assert sections[0][1] == [["tinypkg", "1.0", "1.1"]]
    env_rows = {t.split("  ·  ")[0]: rows for t, rows in sections}
    assert ["environment", "tiny-old:1", "tiny-new:1"] in env_rows["Environment"]
    assert env_rows["Code"] == [["main.py", "present", "+1 −0"]]
    assert "1 package differs" in panel.summary.text()

    # Selecting the changed file shows its diff.
    code_top = next(
        panel.tree.topLevelItem(i)
        for i in range(panel.tree.topLevelItemCount())
        if panel.tree.topLevelItem(i).text(0).startswith("Code")
    )
    panel.tree.setCurrentItem(code_top.child(0))
    assert panel.code_view.isVisible()
    assert "+print('and one more line')" in panel.code_view.toPlainText()

    # Swapping reads the diff the other way round.
    panel.swap()
    assert panel.pair() == (new, old)
    qtbot.waitUntil(
        lambda: panel.is_ready() and panel.diff is not None and panel.diff.a == new, timeout=30_000
    )
    assert panel.rows()[0][1] == [["tinypkg", "1.1", "1.0"]]

    # The same run twice says so instead of an empty table.
    panel.set_pair(old, old)
    assert panel.stack.currentWidget() is panel.same_run
    panel.set_pair(old, new)
    qtbot.waitUntil(panel.is_ready, timeout=30_000)
    if os.environ.get("TRAINYARD_SHOTS"):
        view.grab().save(os.path.join(os.environ["TRAINYARD_SHOTS"], "compare-environment.png"))
    view.stop()
