#!/usr/bin/env bash
# Fetch ONNX Runtime's C/C++ headers (and CMake config) from Debian 13's libonnxruntime-dev into
# DEST, for building cxrmt's ONNX Runtime engine. Uses a private apt configuration (its own
# sources.list, state and cache under DEST): needs no root and changes nothing on the system.
# The runtime library itself is not needed to build: cxrmt loads libonnxruntime at run time
# (the PyPI onnxruntime wheel's, or any >= the headers' version).
# Usage: get_onnxruntime_headers.sh DEST   then   ONNXRUNTIME_ROOT=DEST/usr pip install .
set -euo pipefail
dest="${1:?usage: $0 DEST}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
if [ -f "$dest/usr/include/onnxruntime/onnxruntime_c_api.h" ]; then
    echo "$dest/usr"; exit 0
fi
apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/preferences.d" \
         "$apt_dir/etc/apt.conf.d"
# Signatures are checked: with Debian's archive keyring when installed (debian-archive-keyring,
# also on Ubuntu), else with apt's trusted keys (Debian 12 already trusts Debian 13's keys).
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""; [ -f "$keyring" ] && signed="[signed-by=$keyring] "
echo "deb ${signed}http://deb.debian.org/debian trixie main" > "$apt_dir/etc/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list" -o "Dir::Etc::sourceparts=-"
      -o "Dir::Etc::preferencesparts=$apt_dir/etc/preferences.d"
      -o "Dir::Etc::parts=$apt_dir/etc/apt.conf.d"
      -o "Dir::State=$apt_dir" -o "Dir::State::lists=$apt_dir/lists"
      -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir/cache"
      -o "Debug::NoLocking=1" -o "Acquire::Languages=none"
      -o "APT::Architecture=$(dpkg --print-architecture 2>/dev/null || echo amd64)")
touch "$apt_dir/status"
apt-get "${opts[@]}" -q update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log" >&2; exit 1; }
if grep -q "NO_PUBKEY\|not signed\|is not signed" "$apt_dir/update.log"; then
    cat "$apt_dir/update.log" >&2
    echo "error: cannot verify Debian 13's archive (install debian-archive-keyring)" >&2; exit 1
fi
(cd "$apt_dir/cache" && apt-get "${opts[@]}" -q download libonnxruntime-dev >"$apt_dir/download.log" 2>&1) ||
    { cat "$apt_dir/download.log" >&2; exit 1; }
deb="$(ls "$apt_dir"/cache/libonnxruntime-dev_*.deb | head -1)"
dpkg-deb -x "$deb" "$dest"
header="$dest/usr/include/onnxruntime/onnxruntime_c_api.h"
[ -f "$header" ] || { echo "error: $deb has no onnxruntime_c_api.h" >&2; exit 1; }
version="$(sed -n 's/^#define ORT_API_VERSION \([0-9]*\).*/\1/p' "$header")"
echo "ONNX Runtime headers (ORT_API_VERSION $version) from $(basename "$deb")" >&2
rm -rf "$apt_dir"
echo "$dest/usr"
