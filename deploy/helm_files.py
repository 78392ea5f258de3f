"""The Helm chart's copies of the alert rules and the dashboards.

Helm reads no file outside the chart's folder, so ``deploy/helm/heating/files/`` holds copies of
``deploy/prometheus/rules/*.yml`` (rendered as PrometheusRules), ``deploy/grafana/dashboards/*.json`` (rendered as
ConfigMaps for Grafana's sidecar) and ``deploy/alertmanager/alertmanager.yml`` (its routes, inhibition and receivers
rendered as an AlertmanagerConfig). Copies rather than symlinks: ``helm package`` and a chart repository carry files,
and a symlink out of the chart is refused or lost on the way. ``python -m deploy.helm_files`` rewrites the copies;
``--check`` only says whether they differ. ``tests/unit/test_helm_chart.py`` fails when they drift.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "heating"
# source folder → (the chart's copy, the files copied)
SYNCED: dict[Path, tuple[Path, str]] = {
    ROOT / "deploy" / "prometheus" / "rules": (CHART / "files" / "rules", "*.yml"),
    ROOT / "deploy" / "grafana" / "dashboards": (CHART / "files" / "dashboards", "*.json"),
    ROOT / "deploy" / "alertmanager": (CHART / "files" / "alertmanager", "alertmanager.yml"),
}


def differences() -> list[str]:
    """What differs between the sources and the chart's copies: a file missing, stale or left over."""
    found: list[str] = []
    for source, (copy, pattern) in SYNCED.items():
        wanted = {p.name: p.read_bytes() for p in sorted(source.glob(pattern))}
        held = {p.name: p.read_bytes() for p in sorted(copy.glob(pattern))} if copy.is_dir() else {}
        rel = copy.relative_to(ROOT)
        found += [f"{rel}/{name} is missing" for name in sorted(wanted.keys() - held.keys())]
        found += [f"{rel}/{name} has no source" for name in sorted(held.keys() - wanted.keys())]
        found += [
            f"{rel}/{name} is stale" for name in sorted(wanted.keys() & held.keys()) if wanted[name] != held[name]
        ]
    return found


def sync() -> None:
    """Make each copy exactly its source: files added, rewritten, and the ones without a source removed."""
    for source, (copy, pattern) in SYNCED.items():
        if copy.exists():
            shutil.rmtree(copy)
        copy.mkdir(parents=True)
        for path in sorted(source.glob(pattern)):
            shutil.copyfile(path, copy / path.name)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = differences()
        for line in stale:
            print(line, file=sys.stderr)
        if stale:
            print("run: python -m deploy.helm_files", file=sys.stderr)
        return 1 if stale else 0
    sync()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
