"""Print the raw metadata entries of images, for checking expected values by hand.

    python tests/imagemeta/dump_raw.py ../shared/data/images/corpus [--full]
"""

from __future__ import annotations

import sys
from pathlib import Path

from comfyfixer.tools.imagemeta.containers import read_container


def main(argv: list[str]) -> None:
    full = "--full" in argv
    roots = [Path(a) for a in argv if not a.startswith("--")]
    for root in roots:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for p in files:
            info = read_container(p)
            print(f"=== {p} [{info.kind} {info.width}x{info.height} ct={info.color_type}] problems={info.problems}")
            for e in info.entries:
                v = e.value if full or len(e.value) < 3000 else e.value[:1500] + f" …[{len(e.value)} chars]"
                print(f"--- {e.source} {e.key!r}:\n{v}")


if __name__ == "__main__":
    main(sys.argv[1:])
