"""The Components page lists the workspace's registered command components, every version, and
shows what each runs and how a pipeline step names it."""

from __future__ import annotations

from pathlib import Path

from engine.specs.component import load_component_file
from studio.browsers.components import COL_NAME, COL_VERSION

COMPONENT = """\
name: prep-fares
version: {version}
display_name: Prepare the fares
inputs:
  raw: {{type: uri_folder}}
  min_rows: {{type: integer, default: 10}}
  speed: {{type: string, default: fast, enum: [fast, slow], optional: true}}
outputs:
  clean: {{type: uri_folder}}
code: ./src
command: python prep.py ${{{{inputs.raw}}}} ${{{{outputs.clean}}}}
"""


def test_registered_components_are_listed_with_what_they_run(qtbot, window, engine, tmp_path: Path) -> None:
    page = window.components_page
    window.show_page("components")
    qtbot.waitUntil(page.is_ready, timeout=15_000)
    assert page.stack.currentWidget() is page.empty and "trainyard component create" in page.empty.text.text()

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "prep.py").write_text("print('prep')\n")
    for version in (1, 2):
        (tmp_path / "prep.yml").write_text(COMPONENT.format(version=version))
        engine.create_component(load_component_file(tmp_path / "prep.yml"))
    page.refresh()
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 2, timeout=15_000)
    rows = sorted((page.proxy.index(r, COL_NAME).data(), page.proxy.index(r, COL_VERSION).data())
                  for r in range(2))
    assert rows == [("prep-fares", "1"), ("prep-fares", "2")]
    assert page.count_label.text() == "1 component, 2 versions"
    assert page.select("prep-fares", "2")
    assert page.detail.field("Versions") == "1, 2"
    assert page.detail.field("Command") == "python prep.py ${{inputs.raw}} ${{outputs.clean}}"
    assert page.detail.field("Inputs") == (
        "raw (uri_folder), min_rows (integer = 10), speed (string = fast: fast|slow, optional)"
    )
    assert page.detail.field("Outputs") == "clean (uri_folder)"
    assert page.detail.field("In a pipeline") == "component: azureml:prep-fares:2"
