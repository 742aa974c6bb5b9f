#!/usr/bin/env bash
# Builds a stand-in for the Dockerfile's base image (node:20-bookworm-slim) from this host's own
# Debian packages, for machines that can run containers but cannot pull from an image registry.
# It holds what the Dockerfile uses: node 20 + npm (Debian/NodeSource `nodejs`), bash, dash,
# coreutils, useradd/groupadd (`passwd`), find/grep/sed, their shared libraries, and
# /etc/passwd, /etc/group as on a Debian base.
# Usage: docker/make-standin-base.sh ENGINE TAG   (ENGINE: podman or docker)
set -euo pipefail
engine=${1:?engine (podman|docker)}
tag=${2:?image tag}
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" != 20 ]; then
  echo "make-standin-base: the host has Node.js $major, the Dockerfile wants 20" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pkgs=(nodejs bash dash coreutils passwd login base-files base-passwd libc6 libstdc++6 libgcc-s1
  findutils grep sed tar gzip debianutils)
list=$(mktemp)
for p in "${pkgs[@]}"; do
  dpkg -L "$p" | grep -v -E '^/usr/share/(doc|man|locale|info|lintian)/' >>"$list" || true
done
# Shared libraries of every ELF file in the set (useradd needs libpam, libaudit, libselinux, ...).
# ldd lists the whole closure, so the executables are enough.
grep -E '^(/usr)?/s?bin/' "$list" | while read -r f; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}' || true
done | sort -u | while read -r lib; do
  echo "$lib"
  readlink -f "$lib" # the file a versioned symlink points to
done >>"$list"
# Debian's merged /usr: /bin, /sbin, /lib, /lib64 are symlinks into /usr.
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
# Copy files, links and directories in one tar pass (paths normalised to merged /usr, so nothing
# is written through the /bin, /lib... symlinks).
sed -E 's#^/(bin|sbin|lib|lib64)(/|$)#/usr/\1\2#' "$list" | sort -u |
  grep -v -E '^/usr/(bin|sbin|lib|lib64)?$' >"$list.norm"
while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "${f#/}"; done <"$list.norm" >"$list.rel"
tar -C / -cf - --no-recursion -T "$list.rel" | tar -C "$root" -xf -
# npm, the loader, the configuration useradd reads, and the host's CA bundle (it may hold a
# proxy's CA that npm needs to reach the registry).
for extra in /usr/lib/node_modules /lib64/ld-linux-x86-64.so.2 /etc/login.defs /etc/pam.d \
  /etc/security /etc/default/useradd /etc/nsswitch.conf /etc/ssl /usr/share/ca-certificates \
  /usr/local/share/ca-certificates; do
  if [ -e "$extra" ]; then
    mkdir -p "$root$(dirname "$extra")"
    cp -a "$extra" "$root$(dirname "$extra")/"
  fi
done
mkdir -p "$root/tmp" "$root/root" "$root/etc" "$root/var/tmp" "$root/run" "$root/proc" \
  "$root/sys" "$root/dev" "$root/home"
chmod 1777 "$root/tmp" "$root/var/tmp"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
printf 'root:*::\nnogroup:*::\n' >"$root/etc/gshadow"
tar -C "$root" -c . | "$engine" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$tag" >/dev/null
echo "stand-in base image $tag: $("$engine" image inspect "$tag" --format '{{.Size}}') bytes"
