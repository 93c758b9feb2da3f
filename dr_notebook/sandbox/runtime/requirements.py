"""Check an application's ``requirements.txt`` against the sandbox's own Python environment.

The sandbox never installs anything: it reports what is missing, so that the user decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from dr_notebook.sandbox.runtime.pipfile import REQUIREMENTS, read_requirements


@dataclass
class RequirementsReport:
    """What ``requirements.txt`` asks for that the environment does not give."""

    missing: list[str] = field(default_factory=list)  # distribution names, as written
    mismatched: list[str] = field(default_factory=list)  # "flask 3.1.0 (needs ==3.0.3)"
    unreadable: list[str] = field(default_factory=list)  # "line 3: ..."
    skipped: list[str] = field(default_factory=list)  # pip options the check cannot follow
    unchecked: list[str] = field(default_factory=list)  # URLs and paths: "line 4: ./pkg (...)"

    @property
    def ok(self) -> bool:
        """Whether every requirement is installed (versions may still differ)."""
        return not self.missing and not self.unreadable


def check_requirements(
    text: str | None = None, files: Mapping[str, bytes] | None = None
) -> RequirementsReport:
    """Compare each requirement with the installed distributions, reading as pip reads.

    ``files`` are the version's files (``requirements.txt`` and what its ``-r`` lines name);
    ``text`` alone stands for a lone ``requirements.txt``.
    """
    if files is None:
        files = {REQUIREMENTS: (text or "").encode("utf-8")}
    parsed = read_requirements(files)
    report = RequirementsReport(unreadable=list(parsed.errors), skipped=list(parsed.options))
    for entry in parsed.entries:
        if entry.requirement is None:
            report.unchecked.append(f"{entry.where}: {entry.text[:80]} ({entry.unchecked})")
        elif not entry.constraint:
            _check(entry.requirement, report, extra=None, seen=set())
    return report


def _check(
    requirement: Requirement, report: RequirementsReport, extra: str | None, seen: set[str]
) -> None:
    if requirement.marker is not None and not _applies(requirement.marker, extra):
        return
    name = requirement.name
    key = f"{canonicalize_name(name)}{sorted(requirement.extras)}"
    if key in seen:  # extras may name each other (pkg[all] -> pkg[a]): check each once
        return
    seen.add(key)
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        if name not in report.missing:
            report.missing.append(name)
        return
    if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
        report.mismatched.append(f"{name} {installed} (needs {requirement.specifier})")
    for wanted in sorted(requirement.extras):
        for dependency in metadata.requires(name) or []:
            try:
                needed = Requirement(dependency)
            except InvalidRequirement:
                continue
            if needed.marker is not None and "extra" in str(needed.marker):
                _check(needed, report, extra=canonicalize_name(wanted), seen=seen)


def _applies(marker: Marker, extra: str | None) -> bool:
    environment = {"extra": extra or ""}
    try:
        return marker.evaluate(environment)
    except Exception:  # an unknown marker variable: keep the requirement
        return True


def describe(report: RequirementsReport) -> list[str]:
    """The report as build-log lines."""
    lines = []
    if report.missing:
        lines.append(f"Missing Python distributions: {', '.join(report.missing)}")
    if report.mismatched:
        lines.append(f"Installed versions that differ: {'; '.join(report.mismatched)}")
    if report.unreadable:
        lines.append(f"Unreadable requirements: {'; '.join(report.unreadable)}")
    if report.skipped:
        lines.append(f"Options not checked: {'; '.join(report.skipped)}")
    if report.unchecked:
        lines.append(f"Cannot be checked offline: {'; '.join(report.unchecked)}")
    return lines or ["Every requirement is installed."]
