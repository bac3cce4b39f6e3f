#!/bin/sh
# make rpm: packaging/rpm/kyoka.spec built by rpmbuild -bb, offline, from a tarball of this tree.
#   packaging/build-rpm.sh OUT
# Leaves OUT/RPMS/ARCH/kyoka-VERSION-1.ARCH.rpm and kyoka-approver-...rpm. On Debian (make check)
# rpm has no database of the build dependencies, hence --nodeps; the spec supplies systemd's
# macros where systemd-rpm-macros is missing.
set -eu

out=${1:?usage: build-rpm.sh OUT}
top=$(cd "$(dirname "$0")/.." && pwd)
version=$(head -1 "$top/packaging/debian/changelog" | cut -d'(' -f2 | cut -d')' -f1)
spec_version=$(sed -n 's/^Version: *//p' "$top/packaging/rpm/kyoka.spec")
[ "$version" = "$spec_version" ] || {
        echo "build-rpm.sh: kyoka.spec says Version $spec_version, packaging/debian/changelog $version" >&2
        exit 1
}

t0=$(date +%s)
rm -rf "$out"
mkdir -p "$out/SOURCES"
tar -C "$top" --exclude='./build*' --exclude=./.git --transform "s,^\.,kyoka-$version," \
        -czf "$out/SOURCES/kyoka-$version.tar.gz" .
rpmbuild -bb --nodeps --define "_topdir $out" --define "_smp_mflags -j2" \
        "$top/packaging/rpm/kyoka.spec" >"$out/build.log" 2>&1 || {
        tail -40 "$out/build.log" >&2
        echo "build-rpm.sh: rpmbuild failed (log: $out/build.log)" >&2
        exit 1
}
echo "build-rpm.sh: $(cd "$out" && ls RPMS/*/*.rpm | tr '\n' ' ')in $(( $(date +%s) - t0 )) s"
