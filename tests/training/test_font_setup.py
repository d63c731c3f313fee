"""The project's setup installs exactly the fonts the digits training renders from."""

from __future__ import annotations

import re

from tests.helpers import REPO
from training.render import APT_PACKAGES


def test_make_fonts_installs_every_package_the_training_needs() -> None:
    makefile = (REPO / "Makefile").read_text()
    found = re.search(r"^FONT_PACKAGES := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert found, "FONT_PACKAGES is not in the Makefile"
    packages = found.group(1).replace("\\", " ").split()
    assert sorted(packages) == sorted(APT_PACKAGES)
