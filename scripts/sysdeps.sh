#!/usr/bin/env bash
# Make sure the system packages Chengnuo needs are installed.
#
#   scripts/sysdeps.sh run    what serving the site needs
#   scripts/sysdeps.sh test   that, plus what the test suite needs
#
# Quiet and quick when everything is there. When something is missing, root on a machine
# with apt-get gets it installed; anyone else gets one line naming what to install, and
# exit status 1.
set -euo pipefail

mode="${1:-run}"

# Fonts for printed pledges (CJK, and rare name characters from Extension B), HarfBuzz's
# subsetter (without it WeasyPrint subsets fonts through fontTools, 60 times slower), Pango
# for WeasyPrint, and msgfmt for compiling translations.
packages=(fonts-wqy-microhei fonts-hanazono fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 gettext)
case "$mode" in
    run) ;;
    # Browser tests drive Debian's Chromium; PDF tests read text and fonts with poppler.
    test) packages+=(chromium poppler-utils) ;;
    *)
        echo "usage: $0 run|test" >&2
        exit 2
        ;;
esac

# Whether one package is present, judged without dpkg (a non-Debian machine).
probe() {
    case "$1" in
        fonts-wqy-microhei) grep -qi "WenQuanYi Micro Hei" <<<"$fonts" ;;
        fonts-hanazono) grep -qi "HanaMin" <<<"$fonts" ;;
        fonts-noto-cjk) grep -qi "Noto Sans CJK" <<<"$fonts" ;;
        libharfbuzz-subset0) grep -q "libharfbuzz-subset\.so\.0" <<<"$libraries" ;;
        libpango-1.0-0) grep -q "libpango-1\.0\.so\.0" <<<"$libraries" ;;
        gettext) command -v msgfmt >/dev/null ;;
        chromium) [ -x /usr/bin/chromium ] ;;
        poppler-utils) command -v pdftotext >/dev/null && command -v pdffonts >/dev/null ;;
        *) return 1 ;;
    esac
}

missing_packages() {
    local installed package
    if command -v dpkg-query >/dev/null; then
        # One dpkg-query for all of them; absent packages print nothing (and an error we drop).
        installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)"
        for package in "${packages[@]}"; do
            if ! grep -q "^$package ii" <<<"$installed"; then
                echo "$package"
            elif [ "$package" = chromium ] && [ ! -x /usr/bin/chromium ]; then
                echo "$package"
            fi
        done
    else
        fonts="$(fc-list 2>/dev/null || true)"
        libraries="$(PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null || true)"
        for package in "${packages[@]}"; do
            probe "$package" || echo "$package"
        done
    fi
}

mapfile -t missing < <(missing_packages)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "Installing system packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    mapfile -t missing < <(missing_packages)
    [ "${#missing[@]}" -eq 0 ] && exit 0
    echo "missing system packages after apt-get install: ${missing[*]}" >&2
    exit 1
fi

echo "missing system packages: ${missing[*]} (install them with: sudo apt-get install ${missing[*]})" >&2
exit 1
