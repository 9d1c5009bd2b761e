from __future__ import annotations

from pathlib import Path

import pytest

from comfyfixer.tools.catalogs.manager import ManagerCatalog, load_manager_catalog


@pytest.fixture(scope="session")
def catalog(manager_wheel: Path) -> ManagerCatalog:
    return load_manager_catalog(wheel_dirs=[manager_wheel.parent])
