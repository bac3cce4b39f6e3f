#!/bin/sh
# make deb / make deb-previous: the Debian packages from this tree, offline.
#   packaging/build-deb.sh OUT [VERSION]
# Copies the tree (without build/ and .git/) to OUT/src/kyoka-VERSION with packaging/debian as
# debian/, runs dpkg-buildpackage -us -uc -b there, and lintian on the result: an error or a
# warning that packaging/debian/*.lintian-overrides does not explain fails the build. VERSION
# (default: the top entry of packaging/debian/changelog) replaces that entry's version in the
# copy, so that the same tree can be built as an older package to upgrade from (deb-previous).
# Leaves OUT/kyoka_VERSION_ARCH.deb, OUT/kyoka-approver_VERSION_ARCH.deb, the .changes and
# OUT/lintian.txt. Needs what `make deps` installs (dpkg-dev, debhelper, po-debconf, pandoc,
# lintian and the build dependencies of packaging/debian/control).
set -eu

out=${1:?usage: build-deb.sh OUT [VERSION]}
top=$(cd "$(dirname "$0")/.." && pwd)
version=${2:-$(head -1 "$top/packaging/debian/changelog" | cut -d'(' -f2 | cut -d')' -f1)}
src=$out/src/kyoka-$version

t0=$(date +%s)
rm -rf "$out"
mkdir -p "$src"
# Every build directory left out (build/, and build-dev/ and the like a developer keeps: a
# package built into one of them would otherwise copy itself).
tar -C "$top" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$src" -xf -
cp -r "$top/packaging/debian" "$src/debian"
if [ -n "${2:-}" ]; then
        sed -i "1s/^kyoka ([^)]*)/kyoka ($version)/" "$src/debian/changelog" "$src/packaging/debian/changelog"
fi

cd "$src"
dpkg-checkbuilddeps || { echo "build-deb.sh: missing build dependencies: make deps" >&2; exit 1; }
DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
        tail -40 "$out/build.log" >&2
        echo "build-deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
        exit 1
}
cd "$out"
mv src/*.deb src/*.changes src/*.buildinfo "$out/"
rm -rf "$out/src"

changes=$(ls "$out"/kyoka_*.changes)
# --fail-on error,warning: only what an override in packaging/debian explains may remain.
if ! lintian --fail-on error,warning --display-info "$changes" >"$out/lintian.txt" 2>&1; then
        cat "$out/lintian.txt" >&2
        echo "build-deb.sh: lintian failed" >&2
        exit 1
fi
echo "build-deb.sh: $(cd "$out" && ls -- *.deb | tr '\n' ' ')in $(( $(date +%s) - t0 )) s; lintian: no error or warning," \
        "$(grep -c '^I: ' "$out/lintian.txt") notes ($out/lintian.txt)"
