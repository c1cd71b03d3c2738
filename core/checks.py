"""System checks for what the machine must provide (fonts, HarfBuzz subsetting).

Printed pledge forms need a CJK font, a font for rare name characters (CJK Extension B, such
as 𠮷), and HarfBuzz's subsetter: without ``libharfbuzz-subset0`` WeasyPrint falls back to
fontTools and a page takes seconds instead of a tenth of one. These are warnings, not
errors: the site runs without them, printing is just slow or prints boxes.
"""

import ctypes.util
import functools
import glob
import shutil
import subprocess

from django.core import checks

# U+20BB7 𠮷, a rare name character outside the Basic Multilingual Plane.
EXTENSION_B_SAMPLE = "20bb7"
INSTALL_HINT = "apt-get install fonts-wqy-microhei fonts-hanazono libharfbuzz-subset0"


def _fc_list(pattern: str) -> str | None:
    """``fc-list`` output for ``pattern`` (family names), or None without fontconfig."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        result = subprocess.run(
            [fc_list, pattern, "family"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


@functools.cache
def cjk_font_families() -> str | None:
    return _fc_list(":lang=zh-cn")


@functools.cache
def extension_b_font_families() -> str | None:
    return _fc_list(f":charset={EXTENSION_B_SAMPLE}")


@functools.cache
def harfbuzz_subset_available() -> bool:
    if ctypes.util.find_library("harfbuzz-subset"):
        return True
    patterns = (
        "/usr/lib/*/libharfbuzz-subset.so.0",
        "/usr/lib/libharfbuzz-subset.so.0",
        "/usr/lib64/libharfbuzz-subset.so.0",
        "/usr/local/lib/libharfbuzz-subset.so.0",
        "/opt/homebrew/lib/libharfbuzz-subset.0.dylib",
    )
    return any(glob.glob(pattern) for pattern in patterns)


@checks.register(checks.Tags.compatibility)
def printing_prerequisites(app_configs=None, **kwargs):
    """Warn at start-up when printed forms would be slow or print boxes."""
    warnings = []
    if not cjk_font_families():
        warnings.append(
            checks.Warning(
                "No CJK font is installed: printed pledge forms would show boxes.",
                hint=INSTALL_HINT,
                id="chengnuo.W001",
            )
        )
    if not extension_b_font_families():
        warnings.append(
            checks.Warning(
                "No font covers CJK Extension B: rare name characters (𠮷) would print as boxes.",
                hint=INSTALL_HINT,
                id="chengnuo.W002",
            )
        )
    if not harfbuzz_subset_available():
        warnings.append(
            checks.Warning(
                "libharfbuzz-subset0 is not installed: each printed form takes seconds "
                "(fontTools subsetting) instead of a tenth of one.",
                hint=INSTALL_HINT,
                id="chengnuo.W003",
            )
        )
    return warnings
