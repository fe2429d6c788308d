"""How the `trainyard` wheel lays out the checkout (pyproject.toml holds everything else).

The checkout keeps its folders (`engine/`, `studio/`, `trainyard/`, `resources/`, `docs/`); the
wheel installs them under the one name `trainyard`, so that it owns no generic top-level name
(another distribution's `engine` package is never overwritten, nor is it ours):

    trainyard/             the public Python API (`from trainyard import command, pipeline`)
    trainyard/_app/engine  the engine            (imported as `engine` inside Trainyard)
    trainyard/_app/studio  the desktop studio    (imported as `studio` inside Trainyard)
    trainyard/_app/resources, trainyard/_app/docs   curated environments, icons, the example, the docs

`trainyard._home` puts `trainyard/_app` first on sys.path before anything imports the engine
(the `trainyard` command, `import trainyard`); the engine's own paths (the folder above
`engine/` for supervisors, `resources/` beside it) are the same as in the checkout.
docs/packaging.md says why this layout and not a rename of every import.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
APP = "trainyard._app"
# Shipped as files next to the packages, as the checkout has them.
APP_FOLDERS = {"resources": ("**/*",), "docs": ("*.md",)}  # docs: the studio's Help menu


class BuildWithResources(build_py):
    """build_py, then the non-package folders copied under trainyard/_app."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        for folder, patterns in APP_FOLDERS.items():
            for pattern in patterns:
                for src in sorted((ROOT / folder).glob(pattern)):
                    if src.is_file() and "__pycache__" not in src.parts:
                        rel = src.relative_to(ROOT)
                        dest = Path(self.build_lib, *APP.split("."), rel)
                        self.mkpath(str(dest.parent))
                        self.copy_file(str(src), str(dest))


app_packages = find_packages(include=["engine", "engine.*", "studio", "studio.*"])
# `pip install -e .` (./studio.sh, ./test.sh): the checkout's own layout, engine and studio as
# top-level packages, which its tests and scripts import (`python -m engine.cli.main`).
EDITABLE = "editable_wheel" in sys.argv
prefix = "" if EDITABLE else f"{APP}."
setup(
    packages=["trainyard", *(prefix + p for p in app_packages)],
    package_dir={}
    if EDITABLE
    else {"trainyard": "trainyard", f"{APP}.engine": "engine", f"{APP}.studio": "studio"},
    package_data={
        # Folders that are not packages but ship with them: the injected in-run client, migrations.
        f"{prefix}engine.tracking": ["inject/**/*.py", "inject/*.dist-info/*"],
        f"{prefix}engine.store": ["migrations/*.py", "migrations/*.mako", "migrations/versions/*.py"],
        f"{prefix}studio": ["**/*.svg", "**/*.png", "**/*.qss"],
    },
    # The desktop menu entry and its icon, under the install prefix's share/ (~/.local/share for
    # `pip install --user`, where the desktop finds them).
    data_files=[
        ("share/applications", ["packaging/trainyard.desktop"]),
        ("share/icons/hicolor/scalable/apps", ["packaging/trainyard.svg"]),
        ("share/icons/hicolor/256x256/apps", ["packaging/trainyard.png"]),
    ],
    cmdclass={"build_py": BuildWithResources},
)
