"""OCR of page images with Tesseract (Debian's ``tesseract-ocr`` + ``-vie``/``-fra`` language data).

Pure Python, no Django. Called as a subprocess rather than through a binding: the command line is
the interface Debian ships and supports, a page that makes Tesseract hang or crash costs one
subprocess (with a timeout), never the worker, and pytesseract would add nothing but a dependency.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol


class OcrError(Exception):
    pass


class OcrEngine(Protocol):
    def available(self) -> bool: ...

    def image_to_text(self, image: bytes) -> str: ...


@cache
def installed_languages(binary: str) -> frozenset[str]:
    """The language packs Tesseract has (``tesseract --list-langs``); empty if it does not run."""
    try:
        result = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = (result.stdout or result.stderr).decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and " " not in line.strip())


@dataclass
class Tesseract:
    """``languages`` like 'vie+eng+fra'; the ones not installed are left out (all missing: unavailable)."""

    languages: str = "vie+eng+fra"
    binary: str | None = field(default_factory=lambda: shutil.which("tesseract"))
    timeout: float = 120.0

    def usable_languages(self) -> str:
        if not self.binary:
            return ""
        have = installed_languages(self.binary)
        return "+".join(lang for lang in self.languages.split("+") if lang in have)

    def available(self) -> bool:
        return bool(self.usable_languages())

    def image_to_text(self, image: bytes) -> str:
        """Text of one page image (PNG, or anything Leptonica reads); raises ``OcrError``."""
        languages = self.usable_languages()
        if not self.binary or not languages:
            raise OcrError("Tesseract or its language data is not installed")
        # One thread per page: the pipeline already runs one job per core.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            result = subprocess.run(
                [self.binary, "stdin", "stdout", "-l", languages, "--psm", "3"],
                input=image,
                capture_output=True,
                timeout=self.timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OcrError(f"OCR took longer than {self.timeout:.0f} s") from None
        except OSError as exc:
            raise OcrError(f"Tesseract could not run ({exc})") from None
        if result.returncode != 0:
            raise OcrError(result.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit status {result.returncode}")
        return result.stdout.decode("utf-8", "replace")
